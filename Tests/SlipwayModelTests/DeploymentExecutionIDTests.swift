import SlipwayModel
import Testing

@Suite("Deployment execution ids")
struct DeploymentExecutionIDTests {
    @Test("an execution id Slipway hands out reads back with its deployment and group")
    func slipwayFormRoundTrips() throws {
        let made = DeploymentExecutionID(region: "eu-west-1", deploymentGroupId: "g-1", deploymentId: "d-ABCDEFGH1")
        #expect(made.rawValue == "Slipway/eu-west-1/g-1/d-ABCDEFGH1")
        let read = try #require(DeploymentExecutionID(rawValue: made.rawValue))
        #expect(read == made)
        #expect(read.deploymentGroupId == "g-1")
    }

    @Test("CodeDeploy's ARN form names its deployment after the last slash, and no group")
    func codeDeployForm() throws {
        let read = try #require(
            DeploymentExecutionID(
                rawValue: "CodeDeploy/us-east-1/prod/orpheus:public001/arn:aws:sds:us-east-1:1:deployment/d-ABCDEFGH1"))
        #expect(read.deploymentId == "d-ABCDEFGH1")
        #expect(read.deploymentGroupId == nil)
    }

    @Test("an execution id with nothing after its last slash names no deployment")
    func emptyLastPartIsRefused() {
        #expect(DeploymentExecutionID(rawValue: "") == nil)
        #expect(DeploymentExecutionID(rawValue: "Slipway/us-east-1/g-1/") == nil)
    }
}
