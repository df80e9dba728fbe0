import ArgumentParser
import Foundation

/// The four services of the saga.
public enum ServiceName: String, Sendable, CaseIterable, Codable {
    case order, inventory, payment, notification

    public var defaultHTTPPort: Int {
        switch self {
        case .order: 8080
        case .inventory: 8081
        case .payment: 8082
        case .notification: 8083
        }
    }

    /// The executable (SwiftPM product) name.
    public var executable: String { "\(rawValue)-service" }
}

/// What a setting is when neither its flag nor its variable says anything.
public enum SettingDefault: Sendable, Hashable {
    /// Unset: the feature it configures is off.
    case none
    /// The service does not start without it.
    case required
    /// This text, parsed like a given value.
    case value(String)
    /// Worked out at start; `<name>` placeholders are filled in by `derivedDefault(_:)`.
    case derived(String)
}

/// One setting a service reads: a flag that falls back to an environment variable, then to a
/// default. This declaration is the only place its names and default are stated: the flags'
/// help, the resolution, the structs' defaults and (checked by SettingsDocumentationTests) the
/// tables of Services/API.md all come from it. Every setting is listed in `SettingsCatalog.all`,
/// which is also what the deploy tests hold the compose file against.
public struct SettingDescriptor: Sendable, Hashable {
    public let environment: String
    public let flag: String
    public let fallback: SettingDefault
    public let services: Set<ServiceName>
    /// Said after the default where it is documented, e.g. another default under other settings.
    public let note: String?
    public let help: String

    init(environment: String, flag: String, default fallback: SettingDefault, services: Set<ServiceName>,
         note: String? = nil, help: String) {
        self.environment = environment
        self.flag = flag
        self.fallback = fallback
        self.services = services
        self.note = note
        self.help = help
    }

    /// The default when it is a plain value.
    public var defaultValue: String? {
        if case .value(let value) = fallback { value } else { nil }
    }

    /// A service cannot start without it (no default).
    public var isRequired: Bool { fallback == .required }

    /// The flag's value if given, else the environment's, else the default.
    public func resolve(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        given(flagValue, environment: env) ?? defaultValue
    }

    /// The flag's value if given, else the environment's; nil when neither says anything.
    public func given(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let flagValue { return flagValue }
        if let value = env[environment], !value.isEmpty { return value }
        return nil
    }

    /// Like `resolve`, but a missing value is an error that names both ways to give it.
    public func require(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        guard let value = resolve(flagValue, environment: env) else {
            throw ValidationError("missing setting: give --\(flag) or set \(environment) (\(help))")
        }
        return value
    }

    /// Parses the resolved value as an integer; the error names the setting.
    public func integer(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Int? {
        guard let text = resolve(flagValue, environment: env) else { return nil }
        guard let value = Int(text) else {
            throw ValidationError("--\(flag) / \(environment) must be an integer, got '\(text)'")
        }
        return value
    }

    /// Parses the resolved value as a positive number of milliseconds.
    public func duration(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Duration? {
        guard let value = try integer(flagValue, environment: env) else { return nil }
        guard value > 0 else { throw ValidationError("--\(flag) / \(environment) must be a positive number of milliseconds, got \(value)") }
        return .milliseconds(value)
    }

    /// Parses the resolved value as a boolean (true/false/1/0/yes/no).
    public func bool(_ flagValue: String?, environment env: [String: String] = ProcessInfo.processInfo.environment) throws -> Bool? {
        guard let text = resolve(flagValue, environment: env)?.lowercased() else { return nil }
        switch text {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ValidationError("--\(flag) / \(environment) must be true or false, got '\(text)'")
        }
    }
}
