import AsyncHTTPClient
import EventSchema
import Foundation
import JWTKit
import NIOCore

/// Where the token-verification keys come from: a JWKS file (re-read when it changes) or a JWKS
/// URL (fetched again every `refresh`, and at once, at most every `minimumRefetch`, when a token
/// names a key it does not have: how a rotated-in key is picked up without a restart).
///
/// Only public Ed25519 keys are taken (`kty` OKP, `crv` Ed25519, no private part): a JWKS that
/// offers anything else is refused whole, so a mistake in it is found at start, not at a token.
public final class JWKSSource: Sendable {
    private enum Origin: Sendable {
        case file(WatchedFile<PublicKeySet>)
        case url(RemoteKeys)
    }

    private let origin: Origin
    private let cache = CollectionCache()
    public let location: String

    private init(origin: Origin, location: String) {
        self.origin = origin
        self.location = location
    }

    /// A path, or an `https://` (or, for loopback, `http://`) URL.
    public static func open(_ location: String, http: HTTPClient = .shared) async throws -> JWKSSource {
        if location.hasPrefix("https://") || location.hasPrefix("http://") {
            guard let url = URL(string: location), let host = url.host else { throw KeyFileError.invalid("JWKS URL '\(location)' is not a URL") }
            guard url.scheme == "https" || ["127.0.0.1", "localhost", "::1"].contains(host) else {
                throw KeyFileError.invalid("JWKS URL '\(location)': keys are fetched over https only (http only from loopback)")
            }
            let remote = RemoteKeys(url: location, http: http)
            try await remote.fetch()
            return JWKSSource(origin: .url(remote), location: location)
        }
        let path = location.hasPrefix("file://") ? String(location.dropFirst(7)) : location
        return JWKSSource(origin: .file(try WatchedFile(path: path) { try PublicKeySet(json: $0) }), location: path)
    }

    /// A collection holding the current keys when `kid` is one of them, else nil; with the
    /// version of the key set it holds (a new one whenever the JWKS changes).
    func collection(containing kid: String) async -> (version: UUID, keys: JWTKeyCollection)? {
        let set: PublicKeySet
        switch origin {
        case .file(let file): set = file.value
        case .url(let remote): set = await remote.keys(wanting: kid)
        }
        guard set.keys[kid] != nil else { return nil }
        return (set.version, await cache.collection(for: set))
    }

    /// Why the latest version of the keys was not taken (readiness reports it), or nil.
    public var problem: String? {
        switch origin {
        case .file(let file): file.lastError
        case .url: nil
        }
    }
}

/// The public keys of one version of a JWKS, by key id.
struct PublicKeySet: Sendable {
    let version = UUID()
    let keys: [String: JWK]

    private struct Shape: Decodable {
        struct Key: Decodable {
            var kty: String?
            var crv: String?
            var x: String?
            var d: String?
            var kid: String?
            var alg: String?
            var use: String?
        }
        var keys: [Key]
    }

    init(json: Data) throws {
        guard let shape = try? JSONDecoder().decode(Shape.self, from: json) else {
            throw KeyFileError.invalid("JWKS: not {\"keys\": [...]}")
        }
        guard let jwks = try? JSONDecoder().decode(JWKS.self, from: json), jwks.keys.count == shape.keys.count else {
            throw KeyFileError.invalid("JWKS: a key jwt-kit cannot read")
        }
        var keys: [String: JWK] = [:]
        for (index, (key, jwk)) in zip(shape.keys, jwks.keys).enumerated() {
            guard let kid = key.kid, !kid.isEmpty else { throw KeyFileError.invalid("JWKS key \(index): no kid") }
            guard key.kty == "OKP", key.crv == "Ed25519", let x = key.x, Base64URL.decode(x)?.count == 32 else {
                throw KeyFileError.invalid("JWKS key '\(kid)': only Ed25519 public keys are accepted (kty OKP, crv Ed25519, x of 32 bytes)")
            }
            guard key.d == nil else { throw KeyFileError.invalid("JWKS key '\(kid)' carries its private part (d): publish public keys only") }
            guard key.alg == nil || key.alg == TokenVerifier.algorithm else { throw KeyFileError.invalid("JWKS key '\(kid)': alg must be EdDSA") }
            guard key.use == nil || key.use == "sig" else { throw KeyFileError.invalid("JWKS key '\(kid)': use must be sig") }
            guard keys[kid] == nil else { throw KeyFileError.invalid("JWKS: kid '\(kid)' twice") }
            keys[kid] = jwk
        }
        self.keys = keys
    }
}

/// jwt-kit's key collection is an actor built with async calls: one per JWKS version, built once.
private actor CollectionCache {
    private var built: (version: UUID, collection: JWTKeyCollection)?

    func collection(for set: PublicKeySet) async -> JWTKeyCollection {
        if let built, built.version == set.version { return built.collection }
        let collection = JWTKeyCollection()
        for (kid, jwk) in set.keys {
            var keyed = jwk
            keyed.keyIdentifier = JWKIdentifier(string: kid)
            keyed.algorithm = .eddsa
            _ = try? await collection.add(jwk: keyed)
        }
        built = (set.version, collection)
        return collection
    }
}

private actor RemoteKeys {
    let url: String
    let http: HTTPClient
    let refresh: Duration = .seconds(300)
    let minimumRefetch: Duration = .seconds(30)
    private var current: PublicKeySet?
    private var fetchedAt: ContinuousClock.Instant?

    init(url: String, http: HTTPClient) {
        self.url = url
        self.http = http
    }

    func fetch() async throws {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await http.execute(request, timeout: .seconds(10))
        guard response.status == .ok else { throw KeyFileError.unreadable(path: url, reason: "answered \(response.status.code)") }
        let body = try await response.body.collect(upTo: 1 << 20)
        current = try PublicKeySet(json: Data(body.readableBytesView))
        fetchedAt = .now
    }

    func keys(wanting kid: String) async -> PublicKeySet {
        let age = fetchedAt.map { ContinuousClock.now - $0 } ?? .seconds(Int64.max)
        if age >= refresh || (current?.keys[kid] == nil && age >= minimumRefetch) {
            try? await fetch()
        }
        return current ?? PublicKeySet.empty
    }
}

extension PublicKeySet {
    static let empty: PublicKeySet = try! PublicKeySet(json: Data(#"{"keys": []}"#.utf8))
}
