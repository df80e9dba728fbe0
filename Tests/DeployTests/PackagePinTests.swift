import Foundation
import XCTest

/// The image builds from Package.swift alone: Package.resolved stays out of git (a developer's
/// copy may carry a package mirror's commit ids, which are not GitHub's). So that every build
/// resolves the same versions, Package.swift pins every package of the graph, direct and
/// transitive, with `exact:`, at the version this checkout resolved.
final class PackagePinTests: XCTestCase {
    struct Pin: Hashable {
        let identity: String
        let version: String
    }

    /// SwiftPM's identity of a package URL: its last path component, lowercased, without `.git`.
    static func identity(_ url: String) -> String {
        var name = url.split(separator: "/").last.map(String.init)?.lowercased() ?? url.lowercased()
        if name.hasSuffix(".git") { name.removeLast(4) }
        return name
    }

    func resolvedPins() throws -> [Pin] {
        let url = Deploy.root.appendingPathComponent("Package.resolved")
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw Failure("no \(url.path): `swift build` (or `swift package resolve`) writes it; run one first")
        }
        guard let json = try JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pins = json["pins"] as? [[String: Any]] else {
            throw Failure("Package.resolved has no pins")
        }
        return try pins.map { pin in
            guard let identity = pin["identity"] as? String, let state = pin["state"] as? [String: Any],
                  let version = state["version"] as? String else {
                throw Failure("a pin without a version (a branch or revision cannot be reproduced): \(pin)")
            }
            return Pin(identity: identity, version: version)
        }
    }

    /// `.package(url: "...", <requirement>: "..."[, traits: [...]])` lines of the manifest, by identity.
    func manifestRequirements() throws -> [String: (kind: String, version: String)] {
        let manifest = try Deploy.text(Deploy.root.appendingPathComponent("Package.swift"))
        let regex = try NSRegularExpression(pattern: #"\.package\(\s*url:\s*"([^"]+)"\s*,\s*(\w+):\s*"([^"]+)"\s*(?:,\s*traits:\s*\[[^\]]*\]\s*)?\)"#)
        var result: [String: (String, String)] = [:]
        for match in regex.matches(in: manifest, range: NSRange(manifest.startIndex..., in: manifest)) {
            let group = { (index: Int) in String(manifest[Range(match.range(at: index), in: manifest)!]) }
            result[Self.identity(group(1))] = (group(2), group(3))
        }
        let declared = manifest.components(separatedBy: ".package(").count - 1
        XCTAssertEqual(result.count, declared, "every .package(...) of Package.swift is read here as url + requirement")
        return result
    }

    func testEveryResolvedPackageIsPinnedExactly() throws {
        let pins = try resolvedPins()
        let requirements = try manifestRequirements()
        XCTAssertFalse(pins.isEmpty)
        for pin in pins {
            guard let requirement = requirements[pin.identity] else {
                XCTFail("\(pin.identity) \(pin.version) is in the resolved graph but not pinned in Package.swift: add .package(url: ..., exact: \"\(pin.version)\")")
                continue
            }
            XCTAssertEqual(requirement.kind, "exact", "\(pin.identity): `\(requirement.kind):` lets a build resolve another version")
            XCTAssertEqual(requirement.version, pin.version, "\(pin.identity): pinned \(requirement.version), resolved \(pin.version)")
        }
        let resolved = Set(pins.map(\.identity))
        for identity in requirements.keys where !resolved.contains(identity) {
            XCTFail("Package.swift pins \(identity), which the resolved graph no longer has")
        }
    }
}
