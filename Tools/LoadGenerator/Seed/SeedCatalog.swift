import Foundation
import SagaAPI

extension SeedCatalog {
    /// Sorted keys and pretty printing: the same catalog always gives the same bytes.
    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(self)
    }

    /// The catalog the services were seeded with (`--seed-file`), checked as they check it.
    static func loadForRun(path: String) throws -> SeedCatalog {
        guard FileManager.default.fileExists(atPath: path) else {
            throw LoadGenError("cannot read the seed file \(path) (--seed-file); write one with `loadgen seed --out \(path)`")
        }
        do {
            return try SeedCatalog.load(path: path)
        } catch let error as SeedError {
            throw LoadGenError(error.description)
        }
    }
}

/// A failure the user can fix; the message says how.
struct LoadGenError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
