import Foundation
import ServiceKit
import XCTest

/// Services/API.md's settings tables against `SettingsCatalog`: the declarations are the one
/// place a setting's names and default are stated, so a table row that says otherwise, a
/// setting without a row, or a row listed under the wrong services fails here.
final class SettingsDocumentationTests: XCTestCase {
    static let document = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Services/API.md")

    struct Row {
        let line: Int
        let flag: String
        let defaultCell: String
        /// The line above the table: "Common to the four services:", "Order only:", ...
        let section: String
    }

    static let header = "| env | flag | default | meaning |"

    /// Every row of every table whose header is `header`, by variable; a malformed row fails.
    func documentedRows() throws -> [String: Row] {
        let lines = try String(contentsOf: Self.document, encoding: .utf8).components(separatedBy: "\n")
        var rows: [String: Row] = [:]
        var section = ""
        var inTable = false
        for (index, line) in lines.enumerated() {
            if line == Self.header {
                inTable = true
                section = lines[..<index].last { !$0.isEmpty } ?? ""
                continue
            }
            guard line.hasPrefix("|") else { inTable = false; continue }
            guard inTable, !line.hasPrefix("|---") else { continue }
            let cells = line.dropFirst().components(separatedBy: " | ").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 4, let variable = Self.code(cells[0]), let flag = Self.code(cells[1]) else {
                XCTFail("API.md:\(index + 1): not a settings row (| `VARIABLE` | `--flag` | default | meaning |): \(line)")
                continue
            }
            XCTAssertNil(rows[variable], "API.md:\(index + 1): \(variable) has a second row")
            rows[variable] = Row(line: index + 1, flag: flag, defaultCell: cells[2], section: section)
        }
        return rows
    }

    /// The text of a cell that is exactly one code span.
    static func code(_ cell: String) -> String? {
        guard cell.count > 2, cell.hasPrefix("`"), cell.hasSuffix("`") else { return nil }
        let inner = cell.dropFirst().dropLast()
        return inner.contains("`") ? nil : String(inner)
    }

    /// The services a section line names: all four, or those it names ("Order only:").
    static func services(of section: String) -> Set<ServiceName> {
        if section.contains("four services") { return Set(ServiceName.allCases) }
        return Set(ServiceName.allCases.filter { section.contains($0.rawValue.capitalized) })
    }

    func testEverySettingHasOneRowAndEveryRowASetting() throws {
        let rows = try documentedRows()
        let declared = Set(SettingsCatalog.all.map(\.environment))
        XCTAssertEqual(declared.count, SettingsCatalog.all.count, "a variable is declared twice")
        for missing in declared.subtracting(rows.keys).sorted() {
            XCTFail("\(missing) is declared in SettingsCatalog but has no row in Services/API.md")
        }
        for extra in Set(rows.keys).subtracting(declared).sorted() {
            XCTFail("API.md:\(rows[extra]!.line): \(extra) is not declared in SettingsCatalog")
        }
    }

    func testEachRowSaysWhatTheDeclarationSays() throws {
        let rows = try documentedRows()
        for setting in SettingsCatalog.all {
            guard let row = rows[setting.environment] else { continue }
            let at = "API.md:\(row.line): \(setting.environment)"
            XCTAssertEqual(row.flag, "--\(setting.flag)", "\(at): the flag")
            XCTAssertEqual(row.defaultCell, setting.documentedDefault, "\(at): the default")
            XCTAssertEqual(Self.services(of: row.section), setting.services,
                           "\(at): listed under '\(row.section)', read by \(setting.services.map(\.rawValue).sorted())")
        }
    }

    /// `--help` states the variable and the default from the declaration too.
    func testTheHelpNamesTheVariableAndTheDefault() {
        XCTAssertEqual(SettingsCatalog.stallTimeout.argumentHelp.abstract,
                       "\(SettingsCatalog.stallTimeout.help) (env STALL_TIMEOUT_MS; default 180000 (3 min))")
        XCTAssertEqual(SettingsCatalog.jwks.argumentHelp.abstract, "\(SettingsCatalog.jwks.help) (env AUTH_JWKS; required)")
        XCTAssertEqual(SettingsCatalog.database.derivedDefault(["service": "order"]), "sqlite://./order.db")
    }
}
