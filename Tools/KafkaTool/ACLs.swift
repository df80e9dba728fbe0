import ArgumentParser
import BusAccess
import Foundation
import Kafka

/// `kafka-tool acls print | apply`: the brokers' ACLs as the topic catalog implies them
/// (`BusAccess`), printed, or made the cluster's exact set (the compose stack's acl-init job).
struct ACLs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "acls",
        abstract: "Print the ACLs the topic catalog implies, or make the cluster hold exactly those.",
        subcommands: [Print.self, Apply.self])

    struct Print: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the ACLs, one per line (needs no cluster).")

        func run() throws {
            for acl in BusAccess.acls() { print(acl) }
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Create the missing ACLs and delete every other one, so the cluster holds exactly what `acls print` \
                shows. Needs a principal allowed to alter the cluster's ACLs (in compose: a broker's certificate, \
                the brokers being the only super users).
                """)

        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Print what would change, change nothing.") var dryRun = false

        func run() async throws {
            let admin = try KafkaAdmin(configuration: try connection.configuration(), logger: makeLogger("kafka-tool.acls"))
            do {
                let current = try await admin.describeACLs()
                let change = BusAccess.difference(current: current.acls)
                for acl in change.create { print("create \(acl)") }
                for acl in change.delete { print("delete \(acl)") }
                // Bindings of a kind the platform never grants (cluster, transactional ids, match
                // patterns) are not ours to judge one by one: named, and refused.
                for binding in current.foreign { print("foreign \(binding)") }
                if !dryRun {
                    try await admin.createACLs(change.create)
                    try await admin.deleteACLs(change.delete)
                }
                await admin.close()
                print("\(dryRun ? "would hold" : "holds") \(BusAccess.acls().count) ACLs: \(change.create.count) created, \(change.delete.count) deleted")
                if !current.foreign.isEmpty {
                    throw ValidationError("""
                        the cluster holds \(current.foreign.count) ACL(s) on resources the platform never grants (listed above \
                        as foreign): delete them with Kafka's own kafka-acls.sh, then run this again
                        """)
                }
            } catch {
                await admin.close()
                throw error
            }
        }
    }
}
