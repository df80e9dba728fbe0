import CRdKafka
import Foundation
import Logging

/// Routes librdkafka's log, error and statistics callbacks of one client handle to Swift.
///
/// One instance is the handle's opaque pointer; C callbacks cannot capture, so they find
/// their way back here through `rd_kafka_opaque`.
final class ClientCallbacks: @unchecked Sendable {
    let logger: Logger
    private let lock = NSLock()
    private var statistics: String?
    private let onStatistics: (@Sendable (String) -> Void)?
    /// Consumer only: handles assignment and revocation (set before the handle exists).
    var onRebalance: ((OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?

    init(logger: Logger, onStatistics: (@Sendable (String) -> Void)?) {
        self.logger = logger
        self.onStatistics = onStatistics
    }

    var latestStatistics: String? { lock.withLock { statistics } }

    /// Installs the callbacks on `conf`; the caller keeps `self` alive as long as the handle.
    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { rk, level, facility, buffer in
            guard let rk, let opaque = rd_kafka_opaque(rk) else { return }
            let callbacks = Unmanaged<ClientCallbacks>.fromOpaque(opaque).takeUnretainedValue()
            let text = buffer.map { String(cString: $0) } ?? ""
            let fac = facility.map { String(cString: $0) } ?? "?"
            callbacks.logger.log(level: ClientCallbacks.level(forSyslog: level), "\(fac): \(text)",
                                 metadata: ["librdkafka": "\(String(cString: rd_kafka_name(rk)))"])
        }
        rd_kafka_conf_set_error_cb(conf) { rk, err, reason, opaque in
            guard let opaque else { return }
            let callbacks = Unmanaged<ClientCallbacks>.fromOpaque(opaque).takeUnretainedValue()
            let error = KafkaError(rd_kafka_resp_err_t(err), operation: "client",
                                   message: reason.map { String(cString: $0) })
            // Most client errors are transient (broker down, all brokers down) and librdkafka
            // recovers by itself; a fatal one means the handle is unusable.
            if let rk, rd_kafka_fatal_error(rk, nil, 0) != RD_KAFKA_RESP_ERR_NO_ERROR {
                callbacks.logger.critical("fatal librdkafka error: \(error)")
            } else {
                callbacks.logger.warning("\(error)")
            }
        }
        rd_kafka_conf_set_stats_cb(conf) { _, json, length, opaque in
            guard let opaque, let json else { return 0 }
            let callbacks = Unmanaged<ClientCallbacks>.fromOpaque(opaque).takeUnretainedValue()
            let text = String(decoding: UnsafeRawBufferPointer(start: json, count: length), as: UTF8.self)
            callbacks.lock.withLock { callbacks.statistics = text }
            callbacks.onStatistics?(text)
            return 0 // librdkafka frees the JSON buffer
        }
    }

    static func level(forSyslog level: Int32) -> Logger.Level {
        switch level {
        case ...2: return .critical
        case 3: return .error
        case 4: return .warning
        case 5: return .notice
        case 6: return .info
        default: return .debug
        }
    }
}

/// Creates a client handle from a configuration, with callbacks installed.
func makeClientHandle(type: rd_kafka_type_t, configuration: KafkaConfiguration,
                      callbacks: ClientCallbacks, prepare: (OpaquePointer) -> Void = { _ in }) throws -> OpaquePointer {
    let conf = try configuration.makeNativeConfiguration()
    callbacks.install(on: conf)
    prepare(conf)
    var errorText = [CChar](repeating: 0, count: 512)
    // rd_kafka_new takes ownership of conf on success only.
    guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
        rd_kafka_conf_destroy(conf)
        let reason = text(errorText)
        throw KafkaError.local(reason, operation: "create client")
    }
    return handle
}

/// A librdkafka handle (`rd_kafka_t *`). librdkafka documents its handles as thread-safe,
/// which is what lets the pointer cross into the threads that poll it.
struct NativeHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}
