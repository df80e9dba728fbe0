import ArgumentParser
import Foundation

struct MatrixReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "matrix-report",
        abstract: "Print the fault matrix table from the reports of chaos.sh --matrix's runs.",
        discussion: "One --cell per fault class, in table order. A cell whose report is missing or unreadable shows as ERROR.")

    @Option(name: .customLong("cell"), help: "A fault class and its run's JSON report: NAME=PATH (repeatable).")
    var cells: [String] = []
    @Option(help: "The table's first line.") var title = "fault matrix"
    @Option(help: "Also write the table as JSON to this file.") var json: String?

    func validate() throws {
        guard !cells.isEmpty else { throw ValidationError("give at least one --cell NAME=PATH") }
        for cell in cells where cell.split(separator: "=", maxSplits: 1).count != 2 {
            throw ValidationError("--cell expects NAME=PATH like broker-pause=run/matrix/broker-pause/report.json, got '\(cell)'")
        }
    }

    func run() throws {
        let rows = cells.map { cell -> MatrixTable.Row in
            let parts = cell.split(separator: "=", maxSplits: 1).map(String.init)
            guard let data = FileManager.default.contents(atPath: parts[1]) else {
                return MatrixTable.row(fault: parts[0], report: nil, missing: "no report at \(parts[1]) (the run did not finish)")
            }
            do {
                return MatrixTable.row(fault: parts[0], report: try JSONDecoder().decode(RunReport.self, from: data))
            } catch {
                return MatrixTable.row(fault: parts[0], report: nil, missing: "\(parts[1]) is not a loadgen report: \(error)")
            }
        }
        let table = MatrixTable(title: title, rows: rows)
        print(table.render())
        if let json { try JSONReportWriter.write(table, to: json) }
    }
}
