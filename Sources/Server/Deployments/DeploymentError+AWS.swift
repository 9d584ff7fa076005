import Deployments
import Engine
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
        case .invalidTargetInstances(let message):
            AWSJSONError(.invalidTargetInstancesException, message)
        case .trafficRoutingNotPossible(let message):
            AWSJSONError(.invalidDeploymentConfigNameException, message)
        case .cannotContinue(let id, .notBlueGreen):
            AWSJSONError(
                .unsupportedActionForDeploymentTypeException,
                "Deployment \(id) is an in-place deployment; only blue/green deployments wait to be continued.")
        case .cannotContinue(let id, .finished):
            AWSJSONError(.deploymentAlreadyCompletedException, "The deployment \(id) has already completed.")
        case .cannotContinue(let id, .notWaiting(.readyWait, let status)):
            AWSJSONError(
                .deploymentIsNotInReadyStateException,
                "Deployment \(id) is \(status.rawValue), not Ready: it waits for ContinueDeployment only once its "
                    + "replacement instances are installed, and only when its deployment group's "
                    + "deploymentReadyOption is STOP_DEPLOYMENT.")
        case .cannotContinue(let id, .notWaiting(.terminationWait, let status)):
            AWSJSONError(
                .deploymentNotStartedException,
                "Deployment \(id) (\(status.rawValue)) is not waiting to retire its original instances: that wait "
                    + "starts once the traffic has moved, and only with terminateBlueInstancesOnDeploymentSuccess "
                    + "TERMINATE and a terminationWaitTimeInMinutes above 0.")
        }
    }
}
