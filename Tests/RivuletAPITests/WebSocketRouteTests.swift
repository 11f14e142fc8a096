import RivuletCore
import Testing

@testable import RivuletAPI

@Suite struct WebSocketRouteTests {
    struct Accepted: Sendable, CustomTestStringConvertible {
        var path: String
        var role: WebSocketRole
        var scope: StreamScope
        var fabric: String
        var name: String
        var subscription: String?
        var testDescription: String { path }
    }

    static let accepted: [Accepted] = [
        Accepted(path: "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.orders",
                 role: .producer, scope: .global, fabric: "_system", name: "orders"),
        Accepted(path: "/_ws/ws/v2/consumer/persistent/demo/c8local.eu/c8locals.orders/sub-1",
                 role: .consumer, scope: .local, fabric: "eu", name: "orders", subscription: "sub-1"),
        Accepted(path: "/_ws/ws/v2/reader/persistent/demo/c8global._system/c8globals.orders",
                 role: .reader, scope: .global, fabric: "_system", name: "orders"),
        Accepted(path: "//_ws//ws/v2/producer//persistent/demo/c8global._system/c8globals.orders",
                 role: .producer, scope: .global, fabric: "_system", name: "orders"),
        Accepted(path: "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.orders/",
                 role: .producer, scope: .global, fabric: "_system", name: "orders"),
        Accepted(path: "/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.or%64ers/a%2Db",
                 role: .consumer, scope: .global, fabric: "_system", name: "orders", subscription: "a-b"),
        Accepted(path: "/ws/v2/reader/persistent/demo/c8global._system/c8globals.orders",
                 role: .reader, scope: .global, fabric: "_system", name: "orders"),
    ]

    @Test(arguments: accepted)
    func parsesValidPath(_ row: Accepted) throws {
        let route = try WebSocketRoute.parse(path: row.path)
        #expect(route.role == row.role)
        #expect(route.address == StreamAddress(tenant: "demo", fabric: row.fabric, scope: row.scope, name: row.name))
        #expect(route.subscription == row.subscription)
    }

    struct Rejected: Sendable, CustomTestStringConvertible {
        var path: String
        var status: Int
        var messagePart: String
        var testDescription: String { path }
    }

    static let rejected: [Rejected] = [
        Rejected(path: "/_ws/ws/v2/producer/persistent/T/c8global._system/c8globals.teststream/testconsumer", status: 400,
                 messagePart: "connect to /_ws/ws/v2/consumer/persistent/T/c8global._system/c8globals.teststream/testconsumer"),
        Rejected(path: "/_ws/ws/v2/reader/persistent/T/c8global._system/c8globals.teststream/sub", status: 400,
                 messagePart: "/_ws/ws/v2/consumer/persistent/T/c8global._system/c8globals.teststream/sub"),
        Rejected(path: "/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders/", status: 400,
                 messagePart: "Empty subscription name"),
        Rejected(path: "/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders", status: 400,
                 messagePart: "Empty subscription name"),
        Rejected(path: "/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders/a/b", status: 400,
                 messagePart: "Invalid topic name format"),
        Rejected(path: "/_ws/ws/v2/producer/non-persistent/demo/c8global._system/c8globals.orders", status: 400,
                 messagePart: "domain 'non-persistent'"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.a%2Fb", status: 400,
                 messagePart: "stream name 'a/b' is invalid"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.a+b", status: 400,
                 messagePart: "stream name 'a b' is invalid"),
        Rejected(path: "/_ws/ws/v2/consumer/persistent/demo/c8global._system/c8globals.orders/my+sub", status: 400,
                 messagePart: "subscription name 'my sub' is invalid"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8locals.orders", status: 400,
                 messagePart: "use 'c8globals.orders'"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/c8local._system/orders", status: 400,
                 messagePart: "use 'c8locals.orders'"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/_system/c8globals.orders", status: 400,
                 messagePart: "namespace '_system' is invalid"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/c8global./c8globals.orders", status: 400,
                 messagePart: "fabric name is empty"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo/c8global._system/c8globals.9lives", status: 400,
                 messagePart: "must start with a letter"),
        Rejected(path: "/_ws/ws/v2/producer/persistent/demo", status: 400, messagePart: "Invalid topic name format"),
        Rejected(path: "/_ws/ws/v2/pingpong", status: 404, messagePart: "no route"),
        Rejected(path: "/_ws/ws/producer/persistent/demo/standalone/c8global._system/c8globals.orders", status: 404,
                 messagePart: "no route"),
    ]

    @Test(arguments: rejected)
    func rejectsInvalidPath(_ row: Rejected) {
        #expect {
            _ = try WebSocketRoute.parse(path: row.path)
        } throws: { error in
            guard let error = error as? APIError else { return false }
            return error.status == row.status && error.message.contains(row.messagePart)
        }
    }

    @Test func tenantAndNamespaceAreNotDecoded() throws {
        // Undecoded, `de%6Do` is not the tenant `demo` but an invalid name, because tenants never contain '%'.
        #expect(throws: APIError.badParameter(
            "tenant name 'de%6Do' is invalid: use letters, digits, '.', '_' or '-', and no '..'")) {
            _ = try WebSocketRoute.parse(path: "/_ws/ws/v2/producer/persistent/de%6Do/c8global._system/c8globals.orders")
        }
        #expect(throws: APIError.badParameter(
            "fabric name '_sys%74em' is invalid: use letters, digits, '.', '_' or '-', and no '..'")) {
            _ = try WebSocketRoute.parse(path: "/_ws/ws/v2/producer/persistent/demo/c8global._sys%74em/c8globals.orders")
        }
    }

    @Test func tenantOrFabricWithDotsIsRejected() {
        for path in ["/_ws/ws/v2/producer/persistent/../c8global._system/c8globals.orders",
                     "/_ws/ws/v2/consumer/persistent/demo/c8global.../c8globals.orders/sub"] {
            #expect(throws: APIError.self) { _ = try WebSocketRoute.parse(path: path) }
        }
    }
}
