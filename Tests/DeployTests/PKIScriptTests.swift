import BusAccess
import Foundation
@testable import DevClusterTesting
import XCTest

/// deploy/pki/make-pki.sh, run for real with openssl: it makes every identity the compose stack
/// mounts, each certificate names its owner and verifies against the stack's CA, a second run
/// keeps what is good and replaces what another CA signed. No key material is committed.
final class PKIScriptTests: XCTestCase {
    static let script = Deploy.folder.appendingPathComponent("pki/make-pki.sh")
    var out: URL!

    override func setUpWithError() throws {
        out = FileManager.default.temporaryDirectory.appendingPathComponent("pki-\(UUID().uuidString)")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: out)
    }

    @discardableResult
    func make(_ identities: [String] = []) throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["PKI_CHOWN"] = "false"
        environment["SAGA_ADMIN"] = try DevClusterHarness.binary().deletingLastPathComponent().appendingPathComponent("saga-admin").path
        let result = try runCommand("/bin/bash", [Self.script.path, out.path] + identities, in: Deploy.root,
                                    environment: environment, timeout: 100)
        XCTAssertEqual(result.status, 0, "make-pki.sh failed: \(result.stderr)")
        return result
    }

    func openssl(_ arguments: [String]) throws -> CommandResult {
        try runCommand("/usr/bin/openssl", arguments, in: out)
    }

    /// identity, user id and kind, as the script's table says.
    func table() throws -> [(name: String, uid: String, kind: String)] {
        let text = try Deploy.text(Self.script)
        guard let start = text.range(of: "IDENTITIES='\n"), let end = text[start.upperBound...].range(of: "'\n") else {
            throw Failure("make-pki.sh has no IDENTITIES='...' table")
        }
        return text[start.upperBound..<end.lowerBound].split(separator: "\n").map { line in
            let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            return (fields[0], fields[1], fields[2])
        }
    }

    func testTheScriptMakesExactlyTheIdentitiesComposeMounts() throws {
        let volumes = YAMLValue.mapping(try Deploy.yaml(Deploy.composeFile)["volumes"]) ?? [:]
        let identities = Set(volumes.keys.filter { $0.hasPrefix("pki-") }.map { String($0.dropFirst(4)) }).subtracting(["ca"])
        XCTAssertEqual(Set(try table().map(\.name)), identities, "make-pki.sh's table = the pki-* volumes")
        let principals = Set(BusAccess.services + [BusAccess.loadGenerator, BusAccess.operatorTool])
        XCTAssertTrue(principals.isSubset(of: identities), "every principal of the ACLs has a certificate")

        // pki-init mounts every volume where the script writes it, and nothing else mounts pki-ca.
        let services = try Deploy.services()
        let pkiInit = try Deploy.service("pki-init", in: services)
        for identity in identities.union(["ca"]) {
            XCTAssertTrue(pkiInit.volumes.contains { $0.source == "pki-\(identity)" && $0.target == "/pki/\(identity)" }, "pki-init mounts pki-\(identity)")
        }
        XCTAssertTrue(pkiInit.invocation.contains("/pki") && pkiInit.invocation.contains { $0.hasSuffix("make-pki.sh") }, "\(pkiInit.invocation)")
        for service in services.values where service.name != "pki-init" {
            XCTAssertFalse(service.volumes.contains { $0.source == "pki-ca" }, "\(service.name) mounts the CA's key")
            for mount in service.volumes where mount.source.hasPrefix("pki-") {
                XCTAssertTrue(YAMLValue.strings(service.body["volumes"]).contains("\(mount.source):\(mount.target):ro"), "\(service.name) mounts \(mount.source) read-only")
            }
        }
        // The files belong to the user each reader runs as.
        let uids = Dictionary(uniqueKeysWithValues: try table().map { ($0.name, $0.uid) })
        XCTAssertEqual(uids["postgres"].map { "\($0):\($0)" }, YAMLValue.scalar(try Deploy.service("postgres", in: services).body["user"]))
        XCTAssertEqual(uids["kafka-1"].map { "\($0):\($0)" }, YAMLValue.scalar(try Deploy.service("acl-init", in: services).body["user"]))
        let dockerfile = try Deploy.text(Deploy.dockerfile)
        for name in BusAccess.services + [BusAccess.loadGenerator, BusAccess.operatorTool] {
            XCTAssertTrue(dockerfile.contains("--uid \(uids[name] ?? "?")"), "\(name)'s files belong to the runtime image's user")
        }
    }

    func testEveryCertificateNamesItsOwnerAndVerifiesAgainstTheCA() throws {
        try make()
        let ca = out.appendingPathComponent("ca/ca.crt").path
        for (name, _, kind) in try table() {
            let folder = out.appendingPathComponent(name)
            XCTAssertTrue(FileManager.default.fileExists(atPath: folder.appendingPathComponent("ca.crt").path), "\(name) gets the CA")
            if kind == "secret" {
                XCTAssertFalse(try Deploy.text(folder.appendingPathComponent("admin.password")).isEmpty)
                continue
            }
            if kind == "monitor" { continue }
            let certificate = folder.appendingPathComponent("tls.crt").path
            XCTAssertEqual(try openssl(["verify", "-CAfile", ca, certificate]).status, 0, "\(name)'s certificate verifies")
            let subject = try openssl(["x509", "-in", certificate, "-noout", "-subject", "-nameopt", "RFC2253"]).stdout
            XCTAssertEqual(subject.trimmingCharacters(in: .whitespacesAndNewlines), "subject=CN=\(name)", "the CN is the principal")
            let extensions = try openssl(["x509", "-in", certificate, "-noout", "-ext", "subjectAltName,extendedKeyUsage"]).stdout
            switch kind {
            case "broker":
                XCTAssertTrue(extensions.contains("DNS:\(name)") && extensions.contains("DNS:localhost"), "\(name): \(extensions)")
                XCTAssertTrue(extensions.contains("Server Authentication") && extensions.contains("Client Authentication"), extensions)
                let keystore = try openssl(["pkcs12", "-in", folder.appendingPathComponent("keystore.p12").path, "-noout",
                                            "-passin", "file:\(folder.appendingPathComponent("keystore.password").path)"])
                XCTAssertEqual(keystore.status, 0, "\(name)'s keystore opens with its password file: \(keystore.stderr)")
            case "postgres":
                for san in ["DNS:postgres", "DNS:localhost", "IP Address:127.0.0.1"] { XCTAssertTrue(extensions.contains(san), "\(name): \(san)") }
                XCTAssertFalse(try Deploy.text(folder.appendingPathComponent("superuser.password")).isEmpty)
            default:
                XCTAssertTrue(extensions.contains("Client Authentication") && !extensions.contains("Server Authentication"), "\(name): \(extensions)")
                XCTAssertFalse(extensions.contains("Subject Alternative Name"), "\(name): a client certificate names no host")
            }
            let mode = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent("tls.key").path)[.posixPermissions] as? Int
            XCTAssertEqual(mode, 0o400, "\(name)'s key is readable by its owner only")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("order/ca.key").path), "the CA's key stays in ca/")
    }

    /// Each identity gets its share of the application's keys and nothing more: a service its own
    /// event key (never another's, never the token issuer's), the load generator the token
    /// issuer's key, kafka-tool the operators' event key, Prometheus a monitor token; private
    /// ones readable by their owner only. A second run keeps the same keys.
    func testEachIdentityGetsItsShareOfTheApplicationKeysOnly() throws {
        try make()
        let master = out.appendingPathComponent("ca/app-keys")
        func text(_ path: String) throws -> String { try Deploy.text(out.appendingPathComponent(path)) }
        func mode(_ path: String) throws -> Int? {
            try FileManager.default.attributesOfItem(atPath: out.appendingPathComponent(path).path)[.posixPermissions] as? Int
        }
        for service in BusAccess.services {
            XCTAssertEqual(try text("\(service)/event-signing.key"), try Deploy.text(master.appendingPathComponent("events/\(service).key")))
            XCTAssertEqual(try mode("\(service)/event-signing.key"), 0o400)
            XCTAssertEqual(try text("\(service)/jwks.json"), try Deploy.text(master.appendingPathComponent("jwks.json")))
            XCTAssertEqual(try text("\(service)/keyring.json"), try Deploy.text(master.appendingPathComponent("keyring.json")))
            XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("\(service)/token-issuer.jwk").path),
                           "\(service) cannot mint tokens")
        }
        XCTAssertEqual(try text("loadgen/token-issuer.jwk"), try Deploy.text(master.appendingPathComponent("token-issuer.jwk")))
        XCTAssertEqual(try mode("loadgen/token-issuer.jwk"), 0o400)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("loadgen/event-signing.key").path), "loadgen signs no events")
        XCTAssertEqual(try text("kafka-tool/event-signing.key"), try Deploy.text(master.appendingPathComponent("events/operator.key")))
        let token = try text("prometheus/monitor.token").trimmingCharacters(in: .whitespacesAndNewlines)
        let claims = try XCTUnwrap(token.split(separator: ".").dropFirst().first.flatMap { Data(base64Encoded: Self.padded(String($0))) })
        XCTAssertTrue(String(decoding: claims, as: UTF8.self).contains(#""roles":["monitor"]"#), String(decoding: claims, as: UTF8.self))
        XCTAssertEqual(try mode("prometheus/monitor.token"), 0o400)

        let keyring = try text("order/keyring.json")
        try make()
        XCTAssertEqual(try text("order/keyring.json"), keyring, "a second run keeps the keys")
    }

    static func padded(_ base64url: String) -> String {
        let text = base64url.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return text + String(repeating: "=", count: (4 - text.count % 4) % 4)
    }

    func testASecondRunKeepsWhatIsGoodAndRemakesWhatAnotherCASigned() throws {
        try make(["order", "payment"])
        let order = out.appendingPathComponent("order/tls.crt")
        let payment = out.appendingPathComponent("payment/tls.crt")
        let before = try Data(contentsOf: order)

        // payment's certificate replaced by one of another CA (a volume from another stack).
        let other = FileManager.default.temporaryDirectory.appendingPathComponent("pki-other-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: other) }
        var environment = ProcessInfo.processInfo.environment
        environment["PKI_CHOWN"] = "false"
        environment["PKI_APP_KEYS"] = "false"
        XCTAssertEqual(try runCommand("/bin/bash", [Self.script.path, other.path, "payment"], in: Deploy.root, environment: environment).status, 0)
        try FileManager.default.removeItem(at: payment)
        try FileManager.default.copyItem(at: other.appendingPathComponent("payment/tls.crt"), to: payment)

        let second = try make(["order", "payment"])
        XCTAssertEqual(try Data(contentsOf: order), before, "a good certificate is kept")
        XCTAssertFalse(second.stderr.contains("making order"), second.stderr)
        XCTAssertTrue(second.stderr.contains("making payment"), "a certificate another CA signed is remade: \(second.stderr)")
        XCTAssertEqual(try openssl(["verify", "-CAfile", out.appendingPathComponent("ca/ca.crt").path, payment.path]).status, 0)
    }

    func testAnUnknownIdentityIsRefusedBeforeAnythingIsMade() throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PKI_CHOWN"] = "false"
        let result = try runCommand("/bin/bash", [Self.script.path, out.path, "order", "mallory"], in: Deploy.root, environment: environment)
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("unknown identity 'mallory'"), result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("ca").path), "nothing made")
    }

    /// Keys are made at first start, never committed: no tracked file holds a private key.
    func testNoKeyMaterialIsCommitted() throws {
        let result = try runCommand("/usr/bin/git", ["grep", "-l", "-I", "-e", "PRIVATE KEY-----", "--", "."], in: Deploy.root)
        let files = result.stdout.split(separator: "\n").map(String.init)
        // Sources that look for the marker name it; a PEM block has BEGIN and the key's kind.
        let block = try NSRegularExpression(pattern: "-----BEGIN [A-Z ]*PRIVATE KEY-----")
        for file in files {
            let text = try Deploy.text(Deploy.root.appendingPathComponent(file))
            XCTAssertNil(block.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), "\(file) holds a private key")
        }
        let pem = try runCommand("/usr/bin/git", ["ls-files", "*.pem", "*.key", "*.p12", "*.crt", "*.jks"], in: Deploy.root)
        XCTAssertEqual(pem.stdout, "", "key or certificate files in git")
    }
}
