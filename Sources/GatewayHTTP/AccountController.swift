import Foundation
import GatewayCore
import HTTPTypes
import Hummingbird

/// Sessions, folders and labels: what clients need to obtain IDs.
struct AccountController {
    let folders: FolderService
    let labels: LabelService
    let sessions: any SessionStore
    let configuration: APIConfiguration

    struct Session: Encodable { var sessid: String }

    struct Folder: Encodable {
        var id: String
        var name: String
        var parentId: String?
        var role: String
        var totalItems: Int
        var unreadItems: Int
        var folderSize: UInt64

        enum CodingKeys: String, CodingKey { case id, name, parentId, role, totalItems, unreadItems, folderSize }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(name, forKey: .name)
            try container.encode(parentId, forKey: .parentId)  // null at the top level, not absent
            try container.encode(role, forKey: .role)
            try container.encode(totalItems, forKey: .totalItems)
            try container.encode(unreadItems, forKey: .unreadItems)
            try container.encode(folderSize, forKey: .folderSize)
        }
    }

    struct Label: Encodable {
        var id: String
        var name: String
    }

    struct Items<T: Encodable>: Encodable { var items: [T] }

    struct LabelBody: Decodable { var name: String }

    func add(to group: RouterGroup<GatewayRequestContext>) {
        group.post("login") { _, context in
            JSONResponse.make(Session(sessid: try await sessions.create(for: try context.requireCredentials())))
        }
        // Logout ends the session it is sent with: without `X-Axigen-Session` (Basic alone, or
        // nothing) there is no session to end, and the answer is 401 like any missing credential.
        group.post("logout") { _, context in
            guard let id = context.sessionID else { throw GatewayError.unauthorized }
            try await sessions.remove(id)
            return Response(status: .noContent)
        }
        group.get("folders") { _, context in try await folders(context) }
        group.get("labels") { _, context in
            let list = try await labels.list(credentials: try context.requireCredentials())
            return JSONResponse.make(Items(items: list.map { Label(id: $0.id, name: $0.name) }))
        }
        group.post("labels") { request, context in
            let body = try await JSONBody.decode(LabelBody.self, from: request, limit: configuration.maxBodySize)
            let label = try await labels.create(credentials: try context.requireCredentials(), name: body.name)
            return JSONResponse.make(Label(id: label.id, name: label.name), status: .created)
        }
        group.patch("labels/:labelId") { request, context in
            let body = try await JSONBody.decode(LabelBody.self, from: request, limit: configuration.maxBodySize)
            let id = try context.parameters.require("labelId")
            let label = try await labels.rename(credentials: try context.requireCredentials(), id: id, name: body.name)
            return JSONResponse.make(Label(id: label.id, name: label.name))
        }
        group.delete("labels/:labelId") { _, context in
            try await labels.delete(credentials: try context.requireCredentials(), id: try context.parameters.require("labelId"))
            return Response(status: .noContent)
        }
    }

    private func folders(_ context: GatewayRequestContext) async throws -> Response {
        let list = try await folders.folders(credentials: try context.requireCredentials())
        let items = list.map { folder in
            Folder(
                id: folder.id, name: folder.name, parentId: folder.parentId, role: folder.role.rawValue,
                totalItems: folder.totalItems, unreadItems: folder.unreadItems, folderSize: folder.sizeOctets)
        }
        return JSONResponse.make(Items(items: items))
    }
}
