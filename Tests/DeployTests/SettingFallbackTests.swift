import Foundation
import ServiceKit
import XCTest

/// Where the deploy scripts and the compose file fall back to a value of a service setting
/// (`${NAME:-value}`, a script's `NAME=value` before its flags are read), that value is the
/// setting's declared default (SettingsCatalog), so the stack and a bare service agree unless
/// a line below says why not.
final class SettingFallbackTests: XCTestCase {
    /// Fallbacks chosen on purpose, with the reason.
    static let deliberate: [String: String] = [
        "LOG_FORMAT": "the compose stack logs JSON lines for a collector",
    ]

    static func files() throws -> [URL] {
        let scripts = [Deploy.folder, Deploy.folder.appendingPathComponent("chaos")].flatMap { folder in
            ((try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? [])
                .filter { $0.pathExtension == "sh" }
        }
        return [Deploy.composeFile] + scripts.sorted { $0.path < $1.path }
    }

    /// Every `${NAME:-value}` and shell `NAME=value` of a declared setting, with where it is.
    static func fallbacks(in text: String, of variable: String) throws -> [(line: Int, value: String)] {
        let patterns = [#"\$\{\#(variable):?-([^}]*)\}"#, #"(?:^|[\s;])\#(variable)=([^\s$"'()]+)"#]
        var found: [(Int, String)] = []
        for (number, line) in text.components(separatedBy: "\n").enumerated() {
            for pattern in patterns {
                let expression = try NSRegularExpression(pattern: pattern)
                let range = NSRange(line.startIndex..., in: line)
                for match in expression.matches(in: line, range: range) {
                    if let value = Range(match.range(at: 1), in: line) { found.append((number + 1, String(line[value]))) }
                }
            }
        }
        return found
    }

    func testDeployFallbacksAreTheDeclaredDefaults() throws {
        var checked = 0
        for file in try Self.files() {
            let text = try Deploy.text(file)
            for setting in SettingsCatalog.all where Self.deliberate[setting.environment] == nil {
                for (line, value) in try Self.fallbacks(in: text, of: setting.environment) {
                    checked += 1
                    XCTAssertEqual(value, setting.defaultValue, """
                        \(file.lastPathComponent):\(line) falls back to \(setting.environment)=\(value), but the service's \
                        default is \(setting.documentedDefault) (SettingsCatalog): use it, or say in `deliberate` why not
                        """)
                }
            }
        }
        // compose's SAGA_TIMEOUT_MS and LOG_LEVEL, local-stack.sh's and chaos.sh's SAGA_TIMEOUT_MS at least.
        XCTAssertGreaterThanOrEqual(checked, 4, "the patterns no longer find the fallbacks")
    }
}
