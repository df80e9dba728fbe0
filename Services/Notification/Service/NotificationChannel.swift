import ArgumentParser
import EventSchema
import Foundation
import Logging
import NotificationCore
import ServiceKit

/// Where notifications go. `deliver` returns once the channel took the notification and throws
/// if it did not; the worker retries later, so an implementation may be called again for a
/// notification it already delivered (at-least-once): receivers dedupe on `notificationId`.
protocol NotificationChannel: Sendable {
    var kind: ChannelKind { get }
    /// How many deliveries the worker runs at once.
    var concurrency: Int { get }
    /// The longest one `deliver` call can take, retries included: the worker's claim on a row
    /// lasts a bit longer, so that another instance does not deliver it at the same time.
    var maximumDeliveryTime: Duration { get }

    func deliver(_ record: NotificationRecord) async throws
}

/// A channel whose delivery is local and immediate (a log line, a line appended to a file). The
/// consumer delivers through it inside its batch transaction and records the notification SENT
/// there, NotificationSent in the same outbox write: one hop after the terminal event, with no
/// worker round, claim or second transaction. Still at-least-once, like the worker: a batch that
/// rolls back after delivering delivers again when it is retried. A delivery that throws fails
/// the batch as transient: it is retried, never dead-lettered, and a channel that stays broken
/// shows as the consumer's stall.
protocol InTransactionChannel: NotificationChannel {
    func deliverNow(_ record: NotificationRecord) throws
}

/// The channels the `NOTIFICATION_CHANNEL` setting names; stored in the `channel` column.
enum ChannelKind: String, Sendable, CaseIterable {
    case log, file, webhook

    /// The contract's channel enum has no "file": a JSON-lines file is a log that a test or an
    /// operator can read back, so it is reported as LOG.
    var proto: Saga_V1_NotificationSent.Channel {
        switch self {
        case .log, .file: .log
        case .webhook: .webhook
        }
    }
}

/// The resolved channel settings (`--channel`, `--notification-file`, `--webhook-url`, ...).
/// Its description names the channel, never the webhook's URL or secret.
enum ChannelSettings: Sendable, CustomStringConvertible {
    case log
    case file(path: String)
    case webhook(URL, secret: [UInt8])

    /// The shortest HMAC secret taken: a guessable one would let anybody sign.
    static let minimumSecretBytes = 32

    var description: String {
        switch self {
        case .log: "log"
        case .file(let path): "file \(path)"
        case .webhook(let url, _): "webhook (\(url.scheme ?? "?") to \(url.host ?? "?"))"
        }
    }

    static func resolve(channel: String?, file: String?, webhookURL: String?, webhookSecretFile: String? = nil,
                        allowHTTP: Bool = false) throws -> ChannelSettings {
        let name = (channel ?? SettingsCatalog.notificationChannel.defaultText).lowercased()
        switch ChannelKind(rawValue: name) {
        case .log:
            return .log
        case .file:
            guard let file, !file.isEmpty else {
                throw ValidationError("the file channel needs a file: give --notification-file or set NOTIFICATION_FILE")
            }
            return .file(path: file)
        case .webhook:
            guard let text = webhookURL, !text.isEmpty else {
                throw ValidationError("the webhook channel needs a URL: give --webhook-url or set NOTIFICATION_WEBHOOK_URL")
            }
            // The URL itself stays out of the messages: it often carries a token.
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                  url.host != nil else {
                throw ValidationError("--webhook-url / NOTIFICATION_WEBHOOK_URL must be an https URL (it is not a URL)")
            }
            guard scheme == "https" || allowHTTP else {
                throw ValidationError("--webhook-url / NOTIFICATION_WEBHOOK_URL must be https; plain http only with --webhook-allow-http true (NOTIFICATION_WEBHOOK_ALLOW_HTTP)")
            }
            guard let secretFile = webhookSecretFile, !secretFile.isEmpty else {
                throw ValidationError("the webhook channel signs every request: give --webhook-secret-file or set NOTIFICATION_WEBHOOK_SECRET_FILE")
            }
            guard let secret = FileManager.default.contents(atPath: secretFile) else {
                throw ValidationError("cannot read the webhook secret file \(secretFile)")
            }
            let trimmed = Array(secret).reversed().drop { $0 == 0x0A || $0 == 0x0D }.reversed()
            guard trimmed.count >= minimumSecretBytes else {
                throw ValidationError("the webhook secret in \(secretFile) has \(trimmed.count) bytes; use at least \(minimumSecretBytes) (e.g. openssl rand -hex 32)")
            }
            return .webhook(url, secret: Array(trimmed))
        case nil:
            throw ValidationError("--channel / NOTIFICATION_CHANNEL must be one of \(ChannelKind.allCases.map(\.rawValue).joined(separator: ", ")), got '\(name)'")
        }
    }

    func makeChannel(logger: Logger) throws -> any NotificationChannel {
        switch self {
        case .log: LogChannel(logger: logger)
        case .file(let path): try FileChannel(path: path)
        case .webhook(let url, let secret): WebhookChannel(url: url, secret: secret, logger: logger)
        }
    }
}

/// What the file and webhook channels write: one JSON object per notification.
struct DeliveredNotification: Codable, Sendable {
    var notificationId: String
    var orderId: String
    var customerId: String
    var kind: String
    var channel: String
    var message: String

    init(_ record: NotificationRecord, channel: ChannelKind) {
        notificationId = record.notificationId
        orderId = record.orderId
        customerId = record.customerId
        kind = record.kind.rawValue
        self.channel = channel.rawValue
        message = record.message
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    func json() throws -> Data { try Self.encoder.encode(self) }
}
