import Foundation
import SlipwayModel
import Testing

@testable import Server

@Suite("Policy evaluation")
struct PolicyEvaluationTests {
    private func permissions(_ document: String) throws -> Permissions {
        Permissions(try PolicyDocument.parse(document))
    }

    @Test("action wildcards match by prefix and single characters, without regard to case")
    func actionWildcards() throws {
        let policy = try permissions(
            #"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":["s3:Get*","codedeploy:Get?pplication"],"Resource":"*"}}"#
        )
        #expect(policy.decision(action: "s3:GetObject", resources: ["arn:aws:s3:::b/k"]) == .allowed)
        #expect(policy.decision(action: "S3:getobject", resources: ["arn:aws:s3:::b/k"]) == .allowed)
        #expect(policy.decision(action: "s3:PutObject", resources: ["arn:aws:s3:::b/k"]) == .implicitlyDenied)
        #expect(policy.decision(action: "codedeploy:GetApplication", resources: nil) == .allowed)
        #expect(policy.decision(action: "codedeploy:GetApplicationRevision", resources: nil) == .implicitlyDenied)
        #expect(policy.decision(action: "s3x:GetObject", resources: nil) == .implicitlyDenied)
    }

    @Test("resource patterns select ARNs; a request on several resources needs every one allowed")
    func resources() throws {
        let policy = try permissions(
            #"{"Statement":[{"Effect":"Allow","Action":"codedeploy:*","Resource":"arn:aws:codedeploy:*:111122223333:application:web-*"}]}"#
        )
        let web = "arn:aws:codedeploy:us-east-1:111122223333:application:web-shop"
        let billing = "arn:aws:codedeploy:us-east-1:111122223333:application:billing"
        #expect(policy.decision(action: "codedeploy:CreateApplication", resources: [web]) == .allowed)
        #expect(policy.decision(action: "codedeploy:CreateApplication", resources: [billing]) == .implicitlyDenied)
        #expect(
            policy.decision(action: "codedeploy:BatchGetApplications", resources: [web, billing]) == .implicitlyDenied)
        #expect(
            policy.decision(action: "codedeploy:ListApplications", resources: nil) == .implicitlyDenied,
            "a request naming no resource needs an Allow on every resource")
        #expect(
            Wildcard.matches(
                "arn:aws:codedeploy:*:111122223333:application:web-*",
                "arn:aws:codedeploy:eu-west-1:111122223333:application:WEB-x")
                == false, "resources are compared with case")
    }

    @Test("an explicit Deny wins over any Allow where its resource matches; a request on no resource is on `*`")
    func denyPrecedence() throws {
        let policy = try permissions(
            #"""
            {"Version":"2012-10-17","Statement":[
              {"Effect":"Allow","Action":"*","Resource":"*"},
              {"Effect":"Deny","Action":["codedeploy:Delete*"],"Resource":"arn:aws:codedeploy:*:*:application:prod"}]}
            """#)
        let prod = "arn:aws:codedeploy:us-east-1:000000000000:application:prod"
        let test = "arn:aws:codedeploy:us-east-1:000000000000:application:test"
        #expect(policy.decision(action: "codedeploy:DeleteApplication", resources: [prod]) == .explicitlyDenied)
        #expect(policy.decision(action: "codedeploy:DeleteApplication", resources: [test]) == .allowed)
        #expect(policy.decision(action: "codedeploy:DeleteApplication", resources: [test, prod]) == .explicitlyDenied)
        #expect(
            policy.decision(action: "codedeploy:DeleteDeploymentConfig", resources: nil) == .allowed,
            "a Deny on one application does not apply to a request on every resource")
        #expect(policy.decision(action: "codedeploy:CreateApplication", resources: [prod]) == .allowed)
    }

    @Test("a Deny whose resource is `*` refuses requests on no resource and on any resource")
    func denyOnEveryResource() throws {
        let policy = try permissions(
            #"""
            {"Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
              {"Effect":"Deny","Action":"codedeploy:List*","Resource":"*"},
              {"Effect":"Deny","Action":"codedeploy:Get*","Resource":"arn:aws:codedeploy:*:*:*"}]}
            """#)
        let web = "arn:aws:codedeploy:us-east-1:000000000000:application:web"
        #expect(policy.decision(action: "codedeploy:ListApplications", resources: nil) == .explicitlyDenied)
        #expect(policy.decision(action: "codedeploy:ListDeploymentGroups", resources: [web]) == .explicitlyDenied)
        #expect(
            policy.decision(action: "codedeploy:GetDeploymentConfig", resources: nil) == .allowed,
            "a pattern that covers only CodeDeploy's ARNs does not cover the resource `*`")
        #expect(policy.decision(action: "codedeploy:GetApplication", resources: [web]) == .explicitlyDenied)
    }

    @Test("before its resource is loaded, a request is refused only by a Deny on every resource or by no Allow at all")
    func decisionBeforeResource() throws {
        let denyGroup = try permissions(
            #"""
            {"Statement":[{"Effect":"Allow","Action":"codedeploy:*","Resource":"*"},
              {"Effect":"Deny","Action":"codedeploy:*","Resource":"arn:aws:codedeploy:*:*:deploymentgroup:web/prod"}]}
            """#)
        #expect(denyGroup.decisionBeforeResource(action: "codedeploy:GetDeployment") == .allowed)
        let denyAll = try permissions(#"{"Statement":{"Effect":"Deny","Action":"codedeploy:*","Resource":"*"}}"#)
        #expect(denyAll.decisionBeforeResource(action: "codedeploy:GetDeployment") == .explicitlyDenied)
        let oneGroup = try permissions(
            #"{"Statement":{"Effect":"Allow","Action":"codedeploy:GetDeployment","Resource":"arn:aws:codedeploy:*:*:deploymentgroup:web/staging"}}"#
        )
        #expect(oneGroup.decisionBeforeResource(action: "codedeploy:GetDeployment") == .allowed)
        #expect(oneGroup.decisionBeforeResource(action: "codedeploy:StopDeployment") == .implicitlyDenied)
    }

    @Test("nothing is allowed without a statement, and the built-in roles are the policies they say")
    func builtInRoles() {
        #expect(Permissions([]).decision(action: "codedeploy:ListApplications", resources: nil) == .implicitlyDenied)
        #expect(
            KeyRole.admin.permissions.decision(action: "iam:CreateUser", resources: ["arn:aws:iam::0:user/x"])
                == .allowed)
        #expect(
            KeyRole.deployer.permissions.decision(action: "s3:PutObject", resources: ["arn:aws:s3:::b/k"]) == .allowed)
        #expect(KeyRole.deployer.permissions.decision(action: "iam:CreateUser", resources: nil) == .implicitlyDenied)
        #expect(
            KeyRole.deployer.permissions.decision(action: "codedeploy-commands-secure:PollHostCommand", resources: nil)
                == .implicitlyDenied)
        #expect(KeyRole.agent.permissions.decision(action: "s3:GetObject", resources: ["arn:aws:s3:::b/k"]) == .allowed)
        #expect(KeyRole.agent.permissions.decision(action: "s3:ListBucket", resources: ["arn:aws:s3:::b"]) == .allowed)
        #expect(
            KeyRole.agent.permissions.decision(action: "s3:DeleteObject", resources: ["arn:aws:s3:::b/k"])
                == .implicitlyDenied)
        #expect(
            KeyRole.agent.permissions.decision(action: "codedeploy:CreateApplication", resources: nil)
                == .implicitlyDenied)
    }

    @Test("the policy aws deploy register writes allows reading S3 and nothing else")
    func registerPolicy() throws {
        let policy = try permissions(
            """
            {
                "Version": "2012-10-17",
                "Statement": [ {
                    "Action": [ "s3:Get*", "s3:List*" ],
                    "Effect": "Allow",
                    "Resource": "*"
                } ]
            }
            """)
        #expect(policy.decision(action: "s3:GetObject", resources: ["arn:aws:s3:::releases/app.zip"]) == .allowed)
        #expect(policy.decision(action: "s3:ListBucket", resources: ["arn:aws:s3:::releases"]) == .allowed)
        #expect(policy.decision(action: "s3:PutObject", resources: ["arn:aws:s3:::releases/x"]) == .implicitlyDenied)
        #expect(policy.decision(action: "codedeploy:CreateApplication", resources: nil) == .implicitlyDenied)
        #expect(
            policy.decision(action: "codedeploy-commands-secure:PollHostCommand", resources: nil) == .implicitlyDenied)
    }

    @Test("a principal that is a registered instance acts for its own host only; an allowed principal for any")
    func commandAPIHosts() throws {
        let host = "arn:aws:iam::000000000000:user/AWS/CodeDeploy/gpu-7"
        let instance = Principal(
            accessKeyId: "AKIAEXAMPLE000000001", arn: host, userName: "gpu-7", role: nil, instanceName: nil,
            permissions: try permissions(#"{"Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#),
            instanceHost: host)
        let authorized = try instance.authorizedForCommands(.pollHostCommand)
        #expect(authorized.mayActFor(host: host))
        #expect(!authorized.mayActFor(host: "arn:aws:iam::000000000000:user/other"))

        let denied = Principal(
            accessKeyId: "AKIAEXAMPLE000000002", arn: host, userName: "gpu-7", role: nil, instanceName: nil,
            permissions: try permissions(
                #"{"Statement":{"Effect":"Deny","Action":"codedeploy-commands-secure:*","Resource":"*"}}"#),
            instanceHost: host)
        #expect(
            (#expect(throws: AWSJSONError.self) { try denied.authorizedForCommands(.pollHostCommand) })?
                .type
                == "AccessDeniedException")

        let admin = Principal(
            accessKeyId: "AKIAEXAMPLE000000003", arn: "arn:aws:iam::000000000000:user/slipway/admin/x", userName: nil,
            role: .admin, instanceName: nil, permissions: KeyRole.admin.permissions, instanceHost: nil)
        #expect(try admin.authorizedForCommands(.pollHostCommand).mayActFor(host: host))

        let stranger = Principal(
            accessKeyId: "AKIAEXAMPLE000000004", arn: "arn:aws:iam::000000000000:user/ci", userName: "ci", role: nil,
            instanceName: nil, permissions: KeyRole.deployer.permissions, instanceHost: nil)
        #expect(
            (#expect(throws: AWSJSONError.self) { try stranger.authorizedForCommands(.pollHostCommand) })?
                .type
                == "AccessDeniedException")
    }

    @Test("CodeDeploy requests are checked against the applications, groups and instances they name")
    func codeDeployResources() {
        let arns = ARNs(region: "us-east-1", accountID: "000000000000")
        func resources(_ json: String) -> [String]? {
            CodeDeployResources.of(try? JSONReader.value(from: Data(json.utf8)), arns: arns)
        }
        #expect(
            resources(#"{"applicationName":"web"}"#) == ["arn:aws:codedeploy:us-east-1:000000000000:application:web"])
        #expect(
            resources(#"{"applicationName":"web","deploymentGroupName":"prod","revision":{}}"#)
                == ["arn:aws:codedeploy:us-east-1:000000000000:deploymentgroup:web/prod"])
        #expect(
            resources(#"{"deploymentConfigName":"Fast"}"#)
                == ["arn:aws:codedeploy:us-east-1:000000000000:deploymentconfig:Fast"])
        #expect(
            resources(#"{"instanceNames":["a","b"],"tags":[]}"#)
                == [
                    "arn:aws:codedeploy:us-east-1:000000000000:instance/a",
                    "arn:aws:codedeploy:us-east-1:000000000000:instance/b",
                ])
        #expect(resources(#"{"deploymentId":"d-ABCDEFGH1"}"#) == nil)
        #expect(resources("") == nil)
    }
}

@Suite("Policy documents")
struct PolicyDocumentTests {
    private func refusal(_ document: String) -> String? {
        do {
            _ = try PolicyDocument.parse(document)
            return nil
        } catch {
            return error.message
        }
    }

    @Test("unsupported policy features are refused with a reason rather than ignored")
    func unsupported() {
        let statement = #""Effect":"Allow","Action":"s3:*","Resource":"*""#
        #expect(
            refusal(#"{"Statement":{\#(statement),"Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#)?.contains(
                "Condition") == true)
        #expect(
            refusal(#"{"Statement":{"Effect":"Allow","NotAction":"s3:*","Resource":"*"}}"#)?.contains("NotAction")
                == true)
        #expect(
            refusal(#"{"Statement":{"Effect":"Allow","Action":"s3:*","NotResource":"*"}}"#)?.contains("NotResource")
                == true)
        #expect(
            refusal(#"{"Statement":{\#(statement),"Principal":"*"}}"#)
                == "Policy document should not specify a principal.")
        #expect(
            refusal(#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"arn:aws:s3:::${aws:username}/*"}}"#)?
                .contains("policy variables") == true)
    }

    @Test("malformed documents are refused with IAM's reasons")
    func malformed() {
        #expect(refusal("{not json")?.contains("not valid JSON") == true)
        #expect(refusal(#"{"Version":"2012-10-17"}"#)?.contains("Statement") == true)
        #expect(refusal(#"{"Version":"2020-01-01","Statement":[]}"#)?.contains("version") == true)
        #expect(
            refusal(#"{"Statement":{"Effect":"Permit","Action":"s3:*","Resource":"*"}}"#)?.contains("Effect") == true)
        #expect(
            refusal(#"{"Statement":{"Effect":"Allow","Action":"GetObject","Resource":"*"}}"#)?.contains("Action")
                == true)
        #expect(
            refusal(#"{"Statement":{"Effect":"Allow","Action":"s3:*"}}"#) == "Policy statement must contain resources.")
        #expect(
            refusal(#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"bucket"}}"#)?.contains("ARN") == true)
    }

    @Test("a statement may be one object or a list, with strings or lists of strings")
    func forms() throws {
        let one = try PolicyDocument.parse(
            #"{"Statement":{"Sid":"a","Effect":"Deny","Action":"iam:*","Resource":"*"}}"#)
        #expect(one == [PolicyStatement(effect: .deny, actions: ["iam:*"], resources: ["*"])])
        let many = try PolicyDocument.parse(
            #"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::b","arn:aws:s3:::b/*"]}]}"#
        )
        #expect(many.first?.resources == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
        #expect(PolicyDocument.quotaSize("{ \"a\" :\n 1 }") == 7)
    }
}

@Suite("IAM query protocol")
struct IAMProtocolTests {
    @Test("form parameters are decoded, with + as a space")
    func formDecoding() {
        let query = IAMQuery(
            form: Data("Action=PutUserPolicy&Version=2010-05-08&PolicyDocument=%7B%22a%22%3A+1%7D&UserName=x".utf8),
            url: "")
        #expect(query["Action"] == "PutUserPolicy")
        #expect(query["PolicyDocument"] == #"{"a": 1}"#)
        #expect(query["Missing"] == nil)
    }

    @Test("user names outside IAM's pattern are a ValidationError naming the member")
    func nameValidation() {
        let query = IAMQuery(form: Data("UserName=bad%20name".utf8), url: "")
        #expect(throws: IAMError.self) { try query.name("UserName", maximum: 64) }
        do {
            _ = try query.name("UserName", maximum: 64)
        } catch {
            #expect(error.code == "ValidationError" && error.message.contains("'userName'"))
        }
    }

    @Test("errors are IAM's XML with Type, Code, Message and RequestId")
    func errorShape() {
        let xml = IAMError.noSuchUser("ghost").xml(requestID: "r-1")
        #expect(xml.contains(#"<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">"#))
        #expect(
            xml.contains(
                "<Error><Type>Sender</Type><Code>NoSuchEntity</Code><Message>The user with name ghost cannot be found."
                    + "</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"))
        #expect(IAMError.noSuchUser("ghost").status == 404)
        #expect(IAMError.limitExceeded("x").status == 409)
        #expect(IAMError.deleteConflict("x").status == 409)
        #expect(IAMError.entityAlreadyExists("x").status == 409)
    }

    @Test("markers page through names in order and say when more follow")
    func markers() throws {
        let names = ["a", "b", "c", "d", "e"]
        let first = try IAMMarker.page(names, key: { $0 }, marker: nil, maxItems: 2)
        #expect(first.page == ["a", "b"] && first.isTruncated)
        let second = try IAMMarker.page(names, key: { $0 }, marker: first.marker, maxItems: 2)
        #expect(second.page == ["c", "d"] && second.isTruncated)
        let last = try IAMMarker.page(names, key: { $0 }, marker: second.marker, maxItems: 2)
        #expect(last.page == ["e"] && !last.isTruncated && last.marker == nil)
    }
}
