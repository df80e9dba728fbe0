import Foundation
import XCTest

/// Golden files: read from the source tree (what gets committed), or from the
/// test bundle's copy when the sources are not around. A missing file is written
/// to the source tree; an existing one is never overwritten.
enum GoldenStore {
    static let sourceDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().appendingPathComponent("Golden")

    static var bundleDirectory: URL? { Bundle.module.url(forResource: "Golden", withExtension: nil) }

    /// RECORD_GOLDEN=1: write missing files without failing (e.g. when adding a revision).
    static var recording: Bool { ProcessInfo.processInfo.environment["RECORD_GOLDEN"] == "1" }

    static func read(_ relativePath: String) -> Data? {
        for directory in [sourceDirectory, bundleDirectory].compactMap({ $0 }) {
            if let data = try? Data(contentsOf: directory.appendingPathComponent(relativePath)) {
                return data
            }
        }
        return nil
    }

    /// Relative paths of every file under `v<N>/` directories.
    static func allFiles() -> [String] {
        let directory = FileManager.default.fileExists(atPath: sourceDirectory.path)
            ? sourceDirectory : (bundleDirectory ?? sourceDirectory)
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return versions.filter { $0.hasPrefix("v") }.flatMap { version in
            ((try? FileManager.default.contentsOfDirectory(
                atPath: directory.appendingPathComponent(version).path)) ?? [])
                .filter { !$0.hasPrefix(".") }
                .map { "\(version)/\($0)" }
        }.sorted()
    }

    /// The stored bytes, or nil after recording `current` as a new golden file
    /// (which fails the test unless RECORD_GOLDEN=1, so nothing is recorded unnoticed).
    static func loadOrRecord(
        _ relativePath: String, current: Data, file: StaticString = #filePath, line: UInt = #line
    ) -> Data? {
        if let stored = read(relativePath) { return stored }
        let url = sourceDirectory.appendingPathComponent(relativePath)
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            // withoutOverwriting: never replace a released file, even in a race.
            try current.write(to: url, options: .withoutOverwriting)
        } catch {
            XCTFail("golden file \(relativePath) is missing and could not be created: \(error)", file: file, line: line)
            return nil
        }
        if !recording {
            XCTFail("golden file \(relativePath) was missing and has been created at \(url.path); "
                + "review it, commit it, and run the tests again", file: file, line: line)
        }
        return nil
    }
}
