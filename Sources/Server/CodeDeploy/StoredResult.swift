import Foundation
import SlipwayModel

/// A read's result made of shapes exactly as the store holds them: each stored document is written into the
/// response byte for byte, and is never decoded.
///
/// Applications and deployment groups are stored as the `ApplicationInfo` and `DeploymentGroupInfo` the API
/// returns (`RecordCoding` writes them with the model's own writers), so GetApplication, BatchGetApplications,
/// GetDeploymentGroup and BatchGetDeploymentGroups can answer without turning ten documents into values only to
/// write the same text back.
struct StoredResult: JSONWritable {
    enum Content {
        /// `{"<member>": <document>}`
        case one(Data)
        /// `{"<member>": [<document>, …]}`
        case list([Data])
    }

    let member: StaticString
    let content: Content
    /// BatchGetDeploymentGroups' `errorMessage`, naming the groups not found.
    var errorMessage: String? = nil

    func writeJSON(to output: inout JSONOutput) {
        var object = output.beginObject()
        switch content {
        case .one(let document):
            output.member(member, rawJSON: document, in: &object)
        case .list(let documents):
            var list: [UInt8] = [UInt8(ascii: "[")]
            for (index, document) in documents.enumerated() {
                if index > 0 { list.append(UInt8(ascii: ",")) }
                list.append(contentsOf: document)
            }
            list.append(UInt8(ascii: "]"))
            output.member(member, rawJSON: list, in: &object)
        }
        output.member("errorMessage", errorMessage, in: &object)
        output.endObject(object)
    }
}
