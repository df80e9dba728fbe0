/// The live progress line on stderr: rewritten every second on a terminal, one line every
/// 5 s otherwise (logs of CI and compose stay readable).
struct ProgressReporter: Sendable {
    let tracker: OrderTracker
    let clock: any LoadClock
    let start: Duration
    let interactive: Bool

    /// Prints until the task is cancelled.
    func run() async {
        let interval: Duration = interactive ? .seconds(1) : .seconds(5)
        var next = clock.now() + interval
        while !Task.isCancelled {
            do { try await clock.sleep(until: next) } catch { break }
            next += interval
            print(await tracker.progress())
        }
        if interactive { Console.write("\n") }
    }

    func print(_ progress: RunProgress) {
        let elapsed = (clock.now() - start).seconds
        let sending = ((progress.lastIssuedAt ?? start) - start).seconds
        let rate = sending > 0 ? Double(progress.sent) / sending : 0
        let line = "[\(TextReport.format(elapsed.rounded()))s] sent \(progress.sent) (\(TextReport.format(rate.rounded()))/s), HTTP in flight \(progress.inFlight), accepted \(progress.accepted), completed \(progress.completed), errors \(progress.errors)"
        Console.write(interactive ? "\r\u{1B}[K" + line : line + "\n")
    }
}
