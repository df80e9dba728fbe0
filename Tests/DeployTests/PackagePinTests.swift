import Foundation
import XCTest

/// The image builds without Package.resolved: it stays out of git (a developer's copy may carry
/// a package mirror's commit ids, which are not GitHub's). So that every build resolves the
/// same versions, every package of the graph is pinned at the version this checkout resolved:
/// those a target uses with `exact:` in Package.swift, the rest in deploy/transitive-pins.txt
/// (so that the manifest declares no package it does not use), which deploy/pin-graph.sh
/// resolves to in the image build.
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

    /// deploy/transitive-pins.txt: `identity version` lines, `#` comments.
    func transitivePins() throws -> [String: (kind: String, version: String)] {
        let text = try Deploy.text(Deploy.folder.appendingPathComponent("transitive-pins.txt"))
        var result: [String: (String, String)] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && !line.trimmingCharacters(in: .whitespaces).isEmpty {
            let words = line.split(separator: " ").map(String.init)
            XCTAssertEqual(words.count, 2, "transitive-pins.txt: '\(line)' is not 'identity version'")
            guard words.count == 2 else { continue }
            XCTAssertNil(result[words[0]], "transitive-pins.txt pins \(words[0]) twice")
            result[words[0]] = ("exact", words[1])
        }
        return result
    }

    func testEveryResolvedPackageIsPinnedExactly() throws {
        let pins = try resolvedPins()
        let manifest = try manifestRequirements()
        let transitive = try transitivePins()
        for identity in manifest.keys where transitive[identity] != nil {
            XCTFail("\(identity) is pinned both in Package.swift and in transitive-pins.txt: keep one")
        }
        let requirements = manifest.merging(transitive) { first, _ in first }
        XCTAssertFalse(pins.isEmpty)
        for pin in pins {
            guard let requirement = requirements[pin.identity] else {
                XCTFail("\(pin.identity) \(pin.version) is in the resolved graph but not pinned: add '\(pin.identity) \(pin.version)' to deploy/transitive-pins.txt (or .package(url: ..., exact: \"\(pin.version)\") to Package.swift if a target uses it)")
                continue
            }
            XCTAssertEqual(requirement.kind, "exact", "\(pin.identity): `\(requirement.kind):` lets a build resolve another version")
            XCTAssertEqual(requirement.version, pin.version, "\(pin.identity): pinned \(requirement.version), resolved \(pin.version)")
        }
        let resolved = Set(pins.map(\.identity))
        for identity in requirements.keys where !resolved.contains(identity) {
            XCTFail("\(identity) is pinned, but the resolved graph no longer has it")
        }
    }

    /// SwiftPM warns about a declared package no target uses; every `swift build` would print
    /// it. Each package of Package.swift is used by a product reference (the DocC plugin by the
    /// `generate-documentation` command); the rest of the graph belongs in transitive-pins.txt.
    func testTheManifestDeclaresOnlyPackagesItsTargetsUse() throws {
        let manifest = try Deploy.text(Deploy.root.appendingPathComponent("Package.swift"))
        let regex = try NSRegularExpression(pattern: #"package:\s*"([^"]+)""#)
        let used = Set(regex.matches(in: manifest, range: NSRange(manifest.startIndex..., in: manifest)).map {
            String(manifest[Range($0.range(at: 1), in: manifest)!]).lowercased()
        })
        let unused = try manifestRequirements().keys.filter { !used.contains($0) && $0 != "swift-docc-plugin" }
        XCTAssertEqual(unused.sorted(), [], "declared in Package.swift but used by no target: move to deploy/transitive-pins.txt")
    }
}
