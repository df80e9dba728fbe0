/// Rewrites the contract's `?` placeholders into PostgreSQL's `$1...$n`.
///
/// A `?` is a placeholder unless it sits inside a string literal ('...', E'...' with
/// backslash escapes, $tag$...$tag$), a quoted identifier ("..."), or a comment (-- and nested
/// /* */). PostgreSQL's jsonb operators `?`, `?|`, `?&` therefore cannot be written in
/// statements with placeholders: use `jsonb_exists(...)`, `jsonb_exists_any(...)`,
/// `jsonb_exists_all(...)` instead.
enum PostgresPlaceholders {
    struct Rewritten: Sendable {
        let sql: String
        let placeholderCount: Int
    }

    /// `casts[i]`, when given, follows the `i`-th placeholder (`$1::int8`): a prepared statement's
    /// parameter types come from its text (see `PreparedStatements`).
    static func rewrite(_ sql: String, casts: [String]? = nil) -> Rewritten {
        let input = Array(sql.utf8)
        // Fast path: most statements without `?` need no copy.
        guard input.contains(UInt8(ascii: "?")) else { return Rewritten(sql: sql, placeholderCount: 0) }

        var out: [UInt8] = []
        out.reserveCapacity(input.count + 16)
        var count = 0
        var i = 0
        let n = input.count

        func isIdentifierByte(_ b: UInt8) -> Bool {
            (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A)
                || b == UInt8(ascii: "_") || b == UInt8(ascii: "$") || b >= 0x80
        }

        // Copies input[from..<to] and returns `to`.
        func copy(_ from: Int, _ to: Int) -> Int {
            out.append(contentsOf: input[from..<min(to, n)])
            return min(to, n)
        }

        while i < n {
            let b = input[i]
            switch b {
            case UInt8(ascii: "?"):
                count += 1
                out.append(UInt8(ascii: "$"))
                out.append(contentsOf: String(count).utf8)
                if let casts, count <= casts.count { out.append(contentsOf: casts[count - 1].utf8) }
                i += 1

            case UInt8(ascii: "'"):
                // E'...' (escape string): a backslash escapes the next byte.
                let escapes = i > 0 && (input[i - 1] == UInt8(ascii: "E") || input[i - 1] == UInt8(ascii: "e"))
                    && (i < 2 || !isIdentifierByte(input[i - 2]))
                var j = i + 1
                while j < n {
                    if escapes && input[j] == UInt8(ascii: "\\") { j += 2; continue }
                    if input[j] == UInt8(ascii: "'") {
                        if j + 1 < n && input[j + 1] == UInt8(ascii: "'") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                i = copy(i, j + 1)

            case UInt8(ascii: "\""):
                var j = i + 1
                while j < n {
                    if input[j] == UInt8(ascii: "\"") {
                        if j + 1 < n && input[j + 1] == UInt8(ascii: "\"") { j += 2; continue }
                        break
                    }
                    j += 1
                }
                i = copy(i, j + 1)

            case UInt8(ascii: "-") where i + 1 < n && input[i + 1] == UInt8(ascii: "-"):
                var j = i + 2
                while j < n && input[j] != UInt8(ascii: "\n") { j += 1 }
                i = copy(i, j)

            case UInt8(ascii: "/") where i + 1 < n && input[i + 1] == UInt8(ascii: "*"):
                var depth = 1
                var j = i + 2
                while j < n && depth > 0 {
                    if input[j] == UInt8(ascii: "/") && j + 1 < n && input[j + 1] == UInt8(ascii: "*") {
                        depth += 1; j += 2
                    } else if input[j] == UInt8(ascii: "*") && j + 1 < n && input[j + 1] == UInt8(ascii: "/") {
                        depth -= 1; j += 2
                    } else {
                        j += 1
                    }
                }
                i = copy(i, j)

            case UInt8(ascii: "$") where i == 0 || !isIdentifierByte(input[i - 1]):
                // $tag$ ... $tag$ (tag empty or an identifier not starting with a digit).
                var j = i + 1
                if j < n && !(input[j] >= 0x30 && input[j] <= 0x39) {
                    while j < n && isIdentifierByte(input[j]) && input[j] != UInt8(ascii: "$") { j += 1 }
                }
                guard j < n && input[j] == UInt8(ascii: "$") else {
                    out.append(b); i += 1
                    break
                }
                let tag = input[i...j]
                var k = j + 1
                var end = n
                while k + tag.count <= n {
                    if input[k] == UInt8(ascii: "$") && input[k..<(k + tag.count)].elementsEqual(tag) {
                        end = k + tag.count
                        break
                    }
                    k += 1
                }
                i = copy(i, end)

            default:
                out.append(b)
                i += 1
            }
        }
        return Rewritten(sql: String(decoding: out, as: UTF8.self), placeholderCount: count)
    }
}
