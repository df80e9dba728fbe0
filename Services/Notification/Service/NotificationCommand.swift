import ArgumentParser
import ServiceKit

@main
struct NotificationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notification-service",
        abstract: "The Notification service: one notification per terminal order and kind, delivered through a log, file or webhook channel. Flags override environment variables (Services/API.md).")

    @OptionGroup var options: ServiceOptions
    @Option(name: .customLong("channel"), help: .init(SettingsCatalog.notificationChannel.help)) var channel: String?
    @Option(name: .customLong("notification-file"), help: .init(SettingsCatalog.notificationFile.help)) var notificationFile: String?
    @Option(name: .customLong("webhook-url"), help: .init(SettingsCatalog.webhookURL.help)) var webhookURL: String?
    @Option(help: .init(SettingsCatalog.webhookSecretFile.help)) var webhookSecretFile: String?
    @Option(help: .init(SettingsCatalog.webhookAllowHTTP.help)) var webhookAllowHttp: String?
    @Option(help: .init(SettingsCatalog.streamSubscribers.help)) var streamMaxSubscribers: String?

    func run() async throws {
        let settings = try options.resolve(for: .notification)
        // Resolved before anything starts, so a bad channel setting fails fast with a clear message.
        let channelSettings = try ChannelSettings.resolve(
            channel: SettingsCatalog.notificationChannel.resolve(channel),
            file: SettingsCatalog.notificationFile.resolve(notificationFile),
            webhookURL: SettingsCatalog.webhookURL.resolve(webhookURL),
            webhookSecretFile: SettingsCatalog.webhookSecretFile.resolve(webhookSecretFile),
            allowHTTP: try SettingsCatalog.webhookAllowHTTP.bool(webhookAllowHttp) ?? false)
        let subscribers = try SettingsCatalog.streamSubscribers.integer(streamMaxSubscribers) ?? 256
        guard subscribers >= 1 else { throw ValidationError("--stream-max-subscribers / STREAM_MAX_SUBSCRIBERS must be at least 1") }
        try await ServiceRunner.run(NotificationService.self, settings: settings) { context in
            try NotificationService(context: context, channel: channelSettings, maxStreamSubscribers: subscribers)
        }
    }
}
