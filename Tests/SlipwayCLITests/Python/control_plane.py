"""Drives a running Slipway server with boto3, as a team's scripts would.

Run by ControlPlaneIntegrationTests with the dev profile's environment (AWS_ENDPOINT_URL, AWS_CA_BUNDLE, ...).
Each check prints one line; the first failure raises, and the script exits non-zero with the reason.
"""

import sys

import boto3
import botocore

client = boto3.client("codedeploy")


def check(name, condition, detail=""):
    if not condition:
        raise AssertionError("%s: %s" % (name, detail))
    print("ok:", name)


def error_code(call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as error:
        return error.response["Error"]["Code"]
    return None


# Applications, with the paginator over more than one page (pages hold 100 names).
names = ["app-%03d" % i for i in range(130)]
for name in names:
    client.create_application(applicationName=name, tags=[{"Key": "team", "Value": "ml"}])
listed = []
for page in client.get_paginator("list_applications").paginate():
    listed.extend(page["applications"])
check("the list_applications paginator returns every application once", sorted(listed) == names, listed[:5])

info = client.get_application(applicationName="app-007")["application"]
check("get_application returns the application", info["applicationName"] == "app-007" and info["computePlatform"] == "Server")
check("create_time is a datetime parsed from epoch seconds", hasattr(info["createTime"], "year"))

try:
    client.create_application(applicationName="app-007")
    raised = None
except client.exceptions.ApplicationAlreadyExistsException:
    raised = "ApplicationAlreadyExistsException"
check("a duplicate raises the modeled ApplicationAlreadyExistsException", raised == "ApplicationAlreadyExistsException")
check(
    "a missing application raises ApplicationDoesNotExistException",
    error_code(client.get_application, applicationName="nope") == "ApplicationDoesNotExistException",
)
check(
    "an invalid name raises InvalidApplicationNameException",
    error_code(client.create_application, applicationName="bad name!") == "InvalidApplicationNameException",
)

client.update_application(applicationName="app-007", newApplicationName="renamed")
check("update_application renames", client.get_application(applicationName="renamed")["application"]["applicationName"] == "renamed")

batch = client.batch_get_applications(applicationNames=["app-001", "app-002"])["applicationsInfo"]
check("batch_get_applications returns each application", sorted(a["applicationName"] for a in batch) == ["app-001", "app-002"])

# Deployment configurations.
configs = []
for page in client.get_paginator("list_deployment_configs").paginate():
    configs.extend(page["deploymentConfigsList"])
check("the predefined configurations are listed", "CodeDeployDefault.HalfAtATime" in configs and "CodeDeployDefault.ECSAllAtOnce" in configs)
client.create_deployment_config(
    deploymentConfigName="ThreeQuartersHealthy", minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 75}
)
config = client.get_deployment_config(deploymentConfigName="ThreeQuartersHealthy")["deploymentConfigInfo"]
check("a custom configuration reads back", config["minimumHealthyHosts"] == {"type": "FLEET_PERCENT", "value": 75})
check(
    "FLEET_PERCENT 100 raises InvalidMinimumHealthyHostValueException",
    error_code(
        client.create_deployment_config,
        deploymentConfigName="Everything",
        minimumHealthyHosts={"type": "FLEET_PERCENT", "value": 100},
    )
    == "InvalidMinimumHealthyHostValueException",
)

# Deployment groups.
client.create_deployment_group(
    applicationName="app-001",
    deploymentGroupName="web",
    deploymentConfigName="ThreeQuartersHealthy",
    serviceRoleArn="arn:aws:iam::000000000000:role/CodeDeploy",
    onPremisesInstanceTagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}],
    autoRollbackConfiguration={"enabled": True, "events": ["DEPLOYMENT_FAILURE"]},
)
group = client.get_deployment_group(applicationName="app-001", deploymentGroupName="web")["deploymentGroupInfo"]
check("a deployment group reads back with its config", group["deploymentConfigName"] == "ThreeQuartersHealthy")
check(
    "deleting a configuration in use raises DeploymentConfigInUseException",
    error_code(client.delete_deployment_config, deploymentConfigName="ThreeQuartersHealthy") == "DeploymentConfigInUseException",
)
client.update_deployment_group(applicationName="app-001", currentDeploymentGroupName="web", newDeploymentGroupName="web-prod")
groups = client.list_deployment_groups(applicationName="app-001")["deploymentGroups"]
check("update_deployment_group renames the group", groups == ["web-prod"], groups)
check(
    "tag filters and a tag set together raise InvalidOnPremisesTagCombinationException",
    error_code(
        client.create_deployment_group,
        applicationName="app-001",
        deploymentGroupName="both",
        serviceRoleArn="arn:aws:iam::000000000000:role/CodeDeploy",
        onPremisesInstanceTagFilters=[{"Key": "a", "Value": "b", "Type": "KEY_AND_VALUE"}],
        onPremisesTagSet={"onPremisesTagSetList": [[{"Key": "c", "Value": "d", "Type": "KEY_AND_VALUE"}]]},
    )
    == "InvalidOnPremisesTagCombinationException",
)

# Revisions.
revision = {
    "revisionType": "S3",
    "s3Location": {"bucket": "releases", "key": "model/v1.zip", "bundleType": "zip", "eTag": "abc"},
}
client.register_application_revision(applicationName="app-001", revision=revision, description="first model")
got = client.get_application_revision(applicationName="app-001", revision=revision)
check("a registered revision reads back with its description", got["revisionInfo"]["description"] == "first model")
revisions = client.list_application_revisions(applicationName="app-001", s3Bucket="releases", s3KeyPrefix="model/")["revisions"]
check("list_application_revisions filters by bucket and prefix", len(revisions) == 1, revisions)

# On-premises instances and tags.
client.register_on_premises_instance(instanceName="gpu-01", iamUserArn="arn:aws:iam::000000000000:user/gpu-01")
client.add_tags_to_on_premises_instances(instanceNames=["gpu-01"], tags=[{"Key": "env", "Value": "prod"}])
found = client.list_on_premises_instances(tagFilters=[{"Key": "env", "Value": "prod", "Type": "KEY_AND_VALUE"}])["instanceNames"]
check("list_on_premises_instances filters by tag", found == ["gpu-01"], found)
check(
    "registering the same IAM user twice raises IamUserArnAlreadyRegisteredException",
    error_code(
        client.register_on_premises_instance, instanceName="gpu-02", iamUserArn="arn:aws:iam::000000000000:user/gpu-01"
    )
    == "IamUserArnAlreadyRegisteredException",
)
arn = "arn:aws:codedeploy:us-east-1:000000000000:application:app-001"
client.tag_resource(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ml-team"}])
tags = client.list_tags_for_resource(ResourceArn=arn)["Tags"]
check("tags of an application: those given on create and by tag_resource", {t["Key"] for t in tags} == {"team", "owner"}, tags)

# A deployment of a revision that was never uploaded is refused; what is not built yet says so.
code = error_code(
    client.create_deployment, applicationName="app-001", deploymentGroupName="web-prod", revision=revision
)
check("create_deployment of a revision not in S3 is refused", code == "RevisionDoesNotExistException", code)
code = error_code(
    client.put_lifecycle_event_hook_execution_status, deploymentId="d-AAAAAAAAA",
    lifecycleEventHookExecutionId="hook", status="Succeeded"
)
check("put_lifecycle_event_hook_execution_status is refused as not implemented yet", code == "NotImplementedException", code)

client.delete_application(applicationName="app-002")
check(
    "a deleted application is gone",
    error_code(client.get_application, applicationName="app-002") == "ApplicationDoesNotExistException",
)
print("control plane checks passed")
sys.exit(0)
