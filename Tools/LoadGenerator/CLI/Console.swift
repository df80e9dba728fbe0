import ArgumentParser
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Human-facing output: the report goes to stdout, progress and diagnostics to stderr.
enum Console {
    static func error(_ text: String) {
        write(text + "\n")
    }

    /// Raw text to stderr, unbuffered.
    static func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }

    static var stderrIsTerminal: Bool { isatty(STDERR_FILENO) != 0 }

    /// A stderr logger; librdkafka's chatter stays below `level`.
    static func logger(_ label: String, level: Logger.Level) -> Logger {
        var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = level
        return logger
    }
}

/// The log level option, parsed here rather than through a retroactive `ExpressibleByArgument`
/// conformance of `Logger.Level`, which would clash with one declared by another module
/// linked into the same test binary.
struct LogLevelOption: ParsableArguments {
    @Option(help: "Log level on stderr: trace, debug, info, notice, warning, error or critical.")
    var logLevel = "warning"

    func level() throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: logLevel.lowercased()) else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")), got '\(logLevel)'")
        }
        return level
    }
}
