import ArgumentParser

/// The service instances whose consumers and metrics the audit reads (lag, lost records, poll
/// skips, duplicates absorbed). Load goes to the four service URLs; with several instances of
/// a service every one of them counts here.
struct InstanceOptions: ParsableArguments {
    @Option(name: .customLong("instance"),
            help: "A service instance NAME=URL, NAME being SERVICE-K like payment-1 (repeatable; default: the four service URLs).")
    var instances: [String] = []

    func resolve(defaults urls: ServiceURLs) throws -> [ServiceInstance] {
        guard !instances.isEmpty else {
            return urls.all.map { ServiceInstance(name: $0.name, service: $0.name, url: $0.url) }
        }
        let services = Set(urls.all.map(\.name))
        return try instances.map { text in
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, !parts[0].isEmpty, parts[1].hasPrefix("http://") || parts[1].hasPrefix("https://") else {
                throw ValidationError("--instance expects NAME=URL like payment-1=http://127.0.0.1:8092, got '\(text)'")
            }
            let service = ServiceInstance.service(ofInstance: parts[0])
            guard services.contains(service) else {
                throw ValidationError("--instance \(parts[0]): the name must start with one of \(urls.all.map(\.name).joined(separator: ", ")) (like payment-1)")
            }
            let url = parts[1].hasSuffix("/") ? String(parts[1].dropLast()) : parts[1]
            return ServiceInstance(name: parts[0], service: service, url: url)
        }
    }
}

/// One running instance of a service.
struct ServiceInstance: Sendable, Codable, Equatable {
    var name: String
    var service: String
    var url: String

    /// "payment-1" → "payment"; a name without an instance number is the service itself.
    static func service(ofInstance name: String) -> String {
        guard let dash = name.lastIndex(of: "-"), name[name.index(after: dash)...].allSatisfy(\.isNumber),
              name.index(after: dash) < name.endIndex else { return name }
        return String(name[..<dash])
    }
}
