import Foundation
import Metrics

/// The process's own figures in the Prometheus client conventions, read from `/proc/self` at
/// each scrape (Linux; elsewhere they stay at zero): `process_cpu_seconds_total` (user + system),
/// `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
/// `process_max_fds`, `process_threads`, `process_start_time_seconds`.
public final class ProcessMetrics: Sendable {
    private let cpu = FloatingPointCounter(label: "process_cpu_seconds_total")
    private let resident = Gauge(label: "process_resident_memory_bytes")
    private let virtual = Gauge(label: "process_virtual_memory_bytes")
    private let openFDs = Gauge(label: "process_open_fds")
    private let maxFDs = Gauge(label: "process_max_fds")
    private let threads = Gauge(label: "process_threads")
    private let lastCPU = NSLock()
    nonisolated(unsafe) private var reportedCPUSeconds = 0.0

    public init() {
        Gauge(label: "process_start_time_seconds").record(Date().timeIntervalSince1970)
        refresh()
    }

    /// Reads the figures now (call it before each scrape).
    public func refresh() {
        if let stat = Self.stat() {
            let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
            let seconds = Double(stat.userTicks + stat.systemTicks) / max(1, ticks)
            // A counter only goes up: add what the kernel counted since the last scrape.
            let delta = lastCPU.withLock { () -> Double in
                defer { reportedCPUSeconds = max(reportedCPUSeconds, seconds) }
                return seconds - reportedCPUSeconds
            }
            if delta > 0 { cpu.increment(by: delta) }
            resident.record(stat.residentPages * Int64(sysconf(Int32(_SC_PAGESIZE))))
            virtual.record(stat.virtualBytes)
            threads.record(stat.threads)
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            openFDs.record(max(0, entries.count - 1))  // less the descriptor that lists the directory
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { maxFDs.record(Int64(clamping: limit.rlim_cur)) }
    }

    struct Stat {
        var userTicks: Int64
        var systemTicks: Int64
        var threads: Int64
        var virtualBytes: Int64
        var residentPages: Int64
    }

    /// `/proc/self/stat`: fields after the command name (which may hold spaces and parentheses,
    /// hence the last `)`), numbered as in proc(5) from 3 (state).
    static func stat(_ text: String? = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8)) -> Stat? {
        guard let text, let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        func field(_ number: Int) -> Int64? {
            let index = number - 3
            return fields.indices.contains(index) ? Int64(fields[index]) : nil
        }
        guard let user = field(14), let system = field(15), let threads = field(20),
              let virtual = field(23), let resident = field(24) else { return nil }
        return Stat(userTicks: user, systemTicks: system, threads: threads, virtualBytes: virtual, residentPages: resident)
    }
}
