import ArgumentParser
import ServiceKit

@main
struct NotificationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notification-service",
        abstract: "The Notification service: one notification per terminal order and kind, delivered through a log, file or webhook channel. Flags override environment variables (Services/API.md).")

    @OptionGroup var options: ServiceOptions
    @Option(name: SettingsCatalog.notificationChannel.argumentName, help: SettingsCatalog.notificationChannel.argumentHelp) var channel: String?
    @Option(name: SettingsCatalog.notificationFile.argumentName, help: SettingsCatalog.notificationFile.argumentHelp) var notificationFile: String?
    @Option(name: SettingsCatalog.webhookURL.argumentName, help: SettingsCatalog.webhookURL.argumentHelp) var webhookURL: String?
    @Option(name: SettingsCatalog.webhookSecretFile.argumentName, help: SettingsCatalog.webhookSecretFile.argumentHelp) var webhookSecretFile: String?
    @Option(name: SettingsCatalog.webhookAllowHTTP.argumentName, help: SettingsCatalog.webhookAllowHTTP.argumentHelp) var webhookAllowHttp: String?
    @Option(name: SettingsCatalog.streamSubscribers.argumentName, help: SettingsCatalog.streamSubscribers.argumentHelp) var streamMaxSubscribers: String?

    func run() async throws {
        let settings = try options.resolve(for: .notification)
        // Resolved before anything starts, so a bad channel setting fails fast with a clear message.
        let channelSettings = try ChannelSettings.resolve(
            channel: SettingsCatalog.notificationChannel.resolve(channel),
            file: SettingsCatalog.notificationFile.resolve(notificationFile),
            webhookURL: SettingsCatalog.webhookURL.resolve(webhookURL),
            webhookSecretFile: SettingsCatalog.webhookSecretFile.resolve(webhookSecretFile),
            allowHTTP: try SettingsCatalog.webhookAllowHTTP.boolValue(webhookAllowHttp))
        let subscribers = try SettingsCatalog.streamSubscribers.integerValue(streamMaxSubscribers)
        guard subscribers >= 1 else { throw ValidationError("--stream-max-subscribers / STREAM_MAX_SUBSCRIBERS must be at least 1") }
        try await ServiceRunner.run(NotificationService.self, settings: settings) { context in
            try NotificationService(context: context, channel: channelSettings, maxStreamSubscribers: subscribers)
        }
    }
}
