import ArgumentParser
import Foundation

/// Reading a setting that is declared with a value default, so no caller restates it: these
/// never answer nil (a setting without a value default here is a programming error).
extension SettingDescriptor {
    public func value(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String {
        guard let text = resolve(flagValue, environment: env) else { preconditionFailure(missingDefault) }
        return text
    }

    public func integerValue(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
        guard let value = try integer(flagValue, environment: env) else { preconditionFailure(missingDefault) }
        return value
    }

    public func durationValue(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Duration {
        guard let value = try duration(flagValue, environment: env) else { preconditionFailure(missingDefault) }
        return value
    }

    public func boolValue(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Bool {
        guard let value = try bool(flagValue, environment: env) else { preconditionFailure(missingDefault) }
        return value
    }

    /// The declared default itself, for the initializers' default arguments.
    public var defaultText: String { value(nil, environment: [:]) }
    public var defaultInteger: Int { try! integerValue(nil, environment: [:]) }
    public var defaultDuration: Duration { try! durationValue(nil, environment: [:]) }
    public var defaultBool: Bool { try! boolValue(nil, environment: [:]) }

    /// A derived default with its `<name>` placeholders filled in.
    public func derivedDefault(_ values: [String: String]) -> String {
        guard case .derived(let template) = fallback else { preconditionFailure("\(environment) has no derived default") }
        return values.reduce(template.replacingOccurrences(of: "`", with: "")) { text, pair in
            text.replacingOccurrences(of: "<\(pair.key)>", with: pair.value)
        }
    }

    private var missingDefault: String { "\(environment) is declared without a value default" }
}

/// How a setting's default is written for people: in Services/API.md and in `--help`.
extension SettingDescriptor {
    /// The default column of Services/API.md's settings tables, which must read exactly this.
    public var documentedDefault: String {
        switch fallback {
        case .none: "–"
        case .required: "– (required)"
        case .derived(let text): text
        case .value(let value):
            "`\(value)`" + ([spokenDuration(value), note].compactMap { $0 }.joined(separator: "; ").parenthesized)
        }
    }

    /// The option's name, so a property's spelling cannot make another flag.
    public var argumentName: NameSpecification { .customLong(flag) }

    /// The flag's help: the description, the variable and the default.
    public var argumentHelp: ArgumentHelp {
        let stated = switch fallback {
        case .none: ""
        case .required: "; required"
        case .value, .derived: "; default \(documentedDefault.replacingOccurrences(of: "`", with: ""))"
        }
        return ArgumentHelp("\(help) (env \(environment)\(stated))")
    }

    /// A millisecond setting's default in the unit people say it in: 180000 is 3 min.
    private func spokenDuration(_ value: String) -> String? {
        guard flag.hasSuffix("-ms"), let ms = Int(value), ms > 0 else { return nil }
        // A single day reads better as 24 h.
        let units = [("d", 86_400_000, 2), ("h", 3_600_000, 1), ("min", 60_000, 1), ("s", 1_000, 1)]
        for (unit, size, least) in units where ms % size == 0 && ms / size >= least {
            return "\(ms / size) \(unit)"
        }
        return nil
    }
}

private extension String {
    var parenthesized: String { isEmpty ? "" : " (\(self))" }
}
