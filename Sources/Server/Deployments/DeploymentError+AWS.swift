import Deployments
import SlipwayModel

extension DeploymentError {
    /// The CodeDeploy error this refusal is on the wire, for the CodeDeploy API and the agent command API alike.
    var awsError: AWSJSONError {
        switch self {
        case .deploymentDoesNotExist(let id):
            AWSJSONError(.deploymentDoesNotExistException, "The deployment \(id) could not be found.")
        case .deploymentAlreadyCompleted(let id):
            AWSJSONError(.deploymentAlreadyCompletedException, "The deployment \(id) has already completed.")
        case .deploymentConfigDoesNotExist(let name):
            AWSJSONError(.deploymentConfigDoesNotExistException, "The deployment configuration \(name) does not exist.")
        case .deploymentConfigNotForServer(let name):
            AWSJSONError(
                .invalidDeploymentConfigNameException,
                "The deployment configuration \(name) has no minimum healthy hosts; it is not for the Server compute "
                    + "platform.")
        case .ambiguousTargetSelection(let group):
            AWSJSONError(
                .invalidTagException,
                "Deployment group \(group) has both onPremisesInstanceTagFilters and onPremisesTagSet; keep one.")
        case .revisionNotForServer:
            AWSJSONError(.invalidRevisionException, "Server deployments take S3 or GitHub revisions.")
        }
    }
}
