import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C (or SIGTERM) during a run stops sending new orders; the run then drains, audits
/// and reports as usual. A second one ends the process at once.
final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    private var sources: [DispatchSourceSignal] = []

    var isStopped: Bool { lock.withLock { stopped } }

    func install() {
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { [self] in
                let again = lock.withLock { () -> Bool in
                    defer { stopped = true }
                    return stopped
                }
                if again { exit(130) }
                Console.error("\nloadgen: stopping the traffic; draining and auditing (interrupt again to quit now)")
            }
            source.resume()
            return source
        }
    }

    func uninstall() {
        sources.forEach { $0.cancel() }
        sources = []
    }
}
