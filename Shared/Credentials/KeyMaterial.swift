import Crypto
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Every key of one deployment, made at once in one folder (`saga-admin keys init`):
///
/// | file | what | mode |
/// |---|---|---|
/// | `token-issuer.jwk` | the private key that signs bearer tokens | 0600 |
/// | `jwks.json` | its public half, what every service verifies tokens with (`AUTH_JWKS`) | 0644 |
/// | `events/<owner>.key` | each service's event-signing key, and the operators' (`EVENT_SIGNING_KEY_FILE`) | 0600 |
/// | `keyring.json` | every event key's public half with its owner (`EVENT_KEYRING_FILE`) | 0644 |
///
/// Each service gets only its own `events/<service>.key`; the token issuer's key stays with
/// whoever mints tokens.
public enum KeyMaterial {
    public static let tokenIssuerFile = "token-issuer.jwk"
    public static let jwksFile = "jwks.json"
    public static let keyringFile = "keyring.json"
    public static let eventKeysFolder = "events"

    public static func eventKeyFile(owner: String) -> String { "\(eventKeysFolder)/\(owner).key" }

    /// Writes a fresh set into `directory`; an existing set there is an error unless `replace`.
    @discardableResult
    public static func create(in directory: URL, issuer: String, audience: String, replace: Bool = false,
                              date: Date = Date()) throws -> (issuer: TokenIssuer, signers: [EventSigner]) {
        let keyring = directory.appendingPathComponent(keyringFile)
        guard replace || !FileManager.default.fileExists(atPath: keyring.path) else {
            throw KeyFileError.invalid("\(directory.path) already holds keys (\(keyringFile)); pass --replace to make new ones")
        }
        try FileManager.default.createDirectory(at: directory.appendingPathComponent(eventKeysFolder), withIntermediateDirectories: true)
        let stamp = keyStamp(date)
        let tokens = TokenIssuer(keyId: "tokens-\(stamp)", key: .init(), issuer: issuer, audience: audience)
        try KeyFiles.writePrivate(try tokens.privateJWKJSON(), to: directory.appendingPathComponent(tokenIssuerFile))
        try KeyFiles.writePublic(try PublicJWKS(keys: [tokens.publicJWK]).json(), to: directory.appendingPathComponent(jwksFile))
        var signers: [EventSigner] = []
        for owner in EventKeyOwner.all {
            let signer = try EventSigner(keyId: "\(owner)-\(stamp)", owner: owner)
            try KeyFiles.writePrivate(try signer.fileJSON(), to: directory.appendingPathComponent(eventKeyFile(owner: owner)))
            signers.append(signer)
        }
        try KeyFiles.writePublic(try Keyring(entries: signers.map(\.keyringEntry)).json(), to: keyring)
        return (tokens, signers)
    }

    /// `yyyyMMdd-` and 6 random hex digits: readable, and unique across sets made on one day.
    static func keyStamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd"
        return formatter.string(from: date) + "-" + String(format: "%06x", UInt32.random(in: 0..<(1 << 24)))
    }
}

/// Key files are written whole (a temporary file renamed over the target), private ones 0600
/// from their creation on, so no reader ever sees half a key or a key readable by others.
public enum KeyFiles {
    public static func writePrivate(_ data: Data, to url: URL) throws { try write(data, to: url, mode: 0o600) }
    public static func writePublic(_ data: Data, to url: URL) throws { try write(data, to: url, mode: 0o644) }

    static func write(_ data: Data, to url: URL, mode: mode_t) throws {
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString.prefix(8))")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw KeyFileError.unreadable(path: temporary.path, reason: "cannot create: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let written = data.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fchmod(fd, mode) == 0, fsync(fd) == 0 else {
            unlink(temporary.path)
            throw KeyFileError.unreadable(path: temporary.path, reason: "cannot write: \(String(cString: strerror(errno)))")
        }
        guard rename(temporary.path, url.path) == 0 else {
            unlink(temporary.path)
            throw KeyFileError.unreadable(path: url.path, reason: "cannot rename into place: \(String(cString: strerror(errno)))")
        }
    }
}
