import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Starts an OS thread whose name shows in `top -H`, perf and `/proc/PID/task/*/comm`, so a
/// profile or the cost benchmark's thread table can tell a driver's threads from Swift's pool.
/// Foundation's `Thread.name` does not reach the kernel on Linux, and a thread started from the
/// pool would otherwise carry the pool's name.
public func startThread(named name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
        nameCurrentThread(name)
        body()
    }
    thread.name = name
    thread.start()
}

/// The kernel keeps 15 bytes of a thread's name; a longer one is cut there. glibc declares
/// `pthread_setname_np` only under `_GNU_SOURCE`, which Swift's Glibc module does not define,
/// so the name goes through the thread's own `comm` file, which is what that call writes.
private func nameCurrentThread(_ name: String) {
    #if os(Linux)
    let bytes = Array(name.utf8.prefix(15))
    let file = open("/proc/thread-self/comm", O_WRONLY)
    guard file >= 0 else { return }
    _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
    close(file)
    #endif
}
