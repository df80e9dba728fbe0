import Crypto
import Foundation

/// One signature for all the events of one transaction: the writer signs the root of a Merkle
/// tree (RFC 9162's, with its leaf and node prefixes) over the events' signed bytes, and each
/// record carries the signature, its place in the tree and the path to the root. A reader
/// checks the path (a few SHA-256s) and the signature once per tree: it remembers the roots it
/// verified. So a transaction that writes a hundred events costs one Ed25519 signature and each
/// reader one verification, while every record can still be checked on its own, in any order,
/// without the others. A tree of one event is a signature over that event alone.
public enum SignatureTree {
    public static let maxLeaves = 1 << 16
    static let signedRootDomain = Array("order-saga event tree v1\u{0}".utf8)

    /// SHA-256(0x00 ‖ bytes): a leaf can never be read as a node.
    public static func leaf(_ bytes: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x00])
        hasher.update(data: bytes)
        return Array(hasher.finalize())
    }

    static func node(_ left: [UInt8], _ right: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: [0x01])
        hasher.update(data: left)
        hasher.update(data: right)
        return Array(hasher.finalize())
    }

    /// The largest power of two below `count` (count ≥ 2): where RFC 9162 splits a tree.
    static func split(_ count: Int) -> Int {
        var k = 1
        while k << 1 < count { k <<= 1 }
        return k
    }

    public static func root(_ leaves: ArraySlice<[UInt8]>) -> [UInt8] {
        precondition(!leaves.isEmpty)
        if leaves.count == 1 { return leaves[leaves.startIndex] }
        let k = split(leaves.count)
        return node(root(leaves.prefix(k)), root(leaves.dropFirst(k)))
    }

    /// The root and every leaf's inclusion path at once, each tree node hashed once.
    public static func rootAndPaths(_ leaves: ArraySlice<[UInt8]>) -> (root: [UInt8], paths: [[[UInt8]]]) {
        precondition(!leaves.isEmpty)
        if leaves.count == 1 { return (leaves[leaves.startIndex], [[]]) }
        let k = split(leaves.count)
        let left = rootAndPaths(leaves.prefix(k)), right = rootAndPaths(leaves.dropFirst(k))
        return (node(left.root, right.root), left.paths.map { $0 + [right.root] } + right.paths.map { $0 + [left.root] })
    }

    /// The inclusion path of leaf `index`: the sibling hashes from the leaf up.
    public static func path(_ leaves: ArraySlice<[UInt8]>, index: Int) -> [[UInt8]] {
        guard leaves.count > 1 else { return [] }
        let k = split(leaves.count)
        if index < k { return path(leaves.prefix(k), index: index) + [root(leaves.dropFirst(k))] }
        return path(leaves.dropFirst(k), index: index - k) + [root(leaves.prefix(k))]
    }

    /// The root that `leaf` at `index` of a tree of `count` leaves and `path` leads to, or nil
    /// when the path cannot belong to such a tree (RFC 9162, 2.1.3.2).
    public static func root(leaf: [UInt8], index: Int, count: Int, path: [[UInt8]]) -> [UInt8]? {
        guard index >= 0, index < count, count <= maxLeaves else { return nil }
        var fn = index, sn = count - 1
        var r = leaf
        for sibling in path {
            guard sn != 0 else { return nil }
            if fn & 1 == 1 || fn == sn {
                r = node(sibling, r)
                if fn & 1 == 0 {
                    while fn & 1 == 0 && fn != 0 {
                        fn >>= 1
                        sn >>= 1
                    }
                }
            } else {
                r = node(r, sibling)
            }
            fn >>= 1
            sn >>= 1
        }
        return sn == 0 ? r : nil
    }

    /// The bytes the Ed25519 signature covers: the key id, the tree's size and its root.
    public static func signedRoot(keyId: String, count: Int, root: [UInt8]) -> [UInt8] {
        var out = signedRootDomain
        let id = Array(keyId.utf8)
        withUnsafeBytes(of: UInt32(id.count).bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: id)
        withUnsafeBytes(of: UInt32(count).bigEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: root)
        return out
    }
}
