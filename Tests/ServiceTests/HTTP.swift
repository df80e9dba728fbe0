import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A blocking HTTP client for tests (URLSession under a semaphore): the tests read like the
/// curl calls in the README.
enum HTTP {
    struct Result: CustomStringConvertible {
        let status: Int
        let headers: [String: String]
        let body: Data

        var text: String { String(decoding: body, as: UTF8.self) }
        var description: String { "\(status) \(text)" }

        func json() throws -> [String: Any] {
            guard let object = try JSONSerialization.jsonObject(with: body) as? [String: Any] else {
                throw SagaStack.Failure(description: "not a JSON object: \(text)")
            }
            return object
        }

        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    static func get(_ url: URL, token: String? = nil) throws -> Result { try send("GET", url, token: token) }

    static func post(_ url: URL, json: String, headers: [String: String] = [:], token: String? = nil) throws -> Result {
        try send("POST", url, body: Data(json.utf8), headers: ["Content-Type": "application/json"].merging(headers) { $1 }, token: token)
    }

    static func send(_ method: String, _ url: URL, body: Data? = nil, headers: [String: String] = [:],
                     token: String? = nil, timeout: TimeInterval = 15) throws -> Result {
        var request = URLRequest(url: url, timeoutInterval: timeout)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let http = response as? HTTPURLResponse {
                var fields: [String: String] = [:]
                for (key, value) in http.allHeaderFields { fields["\(key)"] = "\(value)" }
                box.result = .success(Result(status: http.statusCode, headers: fields, body: data ?? Data()))
            } else {
                box.result = .failure(error ?? SagaStack.Failure(description: "no response from \(url)"))
            }
            done.signal()
        }.resume()
        done.wait()
        return try box.result!.get()
    }

    private final class Box: @unchecked Sendable {
        var result: Swift.Result<Result, any Error>?
    }
}
