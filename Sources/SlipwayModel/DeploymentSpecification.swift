/// The deployment specification an agent fetches with `GetDeploymentSpecification`: the JSON document, with the
/// member names the stock CodeDeploy agent reads. The server wraps it in an envelope (`PKCS7/JSON`: signed).
public struct DeploymentSpecificationDocument: Codable, Hashable, Sendable {
    public struct S3Revision: Codable, Hashable, Sendable {
        public var Bucket: String
        public var Key: String
        /// `tar`, `tgz` or `zip`.
        public var BundleType: String
        public var Version: String?
        public var ETag: String?

        public init(bucket: String, key: String, bundleType: String, version: String? = nil, eTag: String? = nil) {
            self.Bucket = bucket
            self.Key = key
            self.BundleType = bundleType
            self.Version = version
            self.ETag = eTag
        }
    }

    public struct GitHubRevision: Codable, Hashable, Sendable {
        public var Account: String
        public var Repository: String
        public var CommitId: String
        public var BundleType: String?
        public var Anonymous: Bool?

        public init(account: String, repository: String, commitId: String, bundleType: String? = nil) {
            self.Account = account
            self.Repository = repository
            self.CommitId = commitId
            self.BundleType = bundleType
            self.Anonymous = true
        }
    }

    public struct Revision: Codable, Hashable, Sendable {
        /// `S3`, `GitHub`, `Local File` or `Local Directory`.
        public var RevisionType: String
        public var S3Revision: S3Revision?
        public var GitHubRevision: GitHubRevision?

        public init(s3: S3Revision) {
            self.RevisionType = "S3"
            self.S3Revision = s3
        }

        public init(gitHub: GitHubRevision) {
            self.RevisionType = "GitHub"
            self.GitHubRevision = gitHub
        }
    }

    public struct AgentOverrides: Codable, Hashable, Sendable {
        /// `DISALLOW`, `OVERWRITE` or `RETAIN`: the deployment's `fileExistsBehavior`.
        public var FileExistsBehavior: String?
    }

    public struct AgentActionOverrides: Codable, Hashable, Sendable {
        public var AgentOverrides: AgentOverrides?
    }

    public var DeploymentId: String
    public var DeploymentGroupId: String
    public var DeploymentGroupName: String
    public var ApplicationName: String
    /// `user`, `codeDeployRollback`, …
    public var DeploymentCreator: String
    /// `IN_PLACE` or `BLUE_GREEN`.
    public var DeploymentType: String
    public var AppSpecFilename: String
    public var Revision: Revision
    public var AgentActionOverrides: AgentActionOverrides?

    public init(
        deploymentId: String, deploymentGroupId: String, deploymentGroupName: String, applicationName: String,
        deploymentCreator: String = "user", deploymentType: String = "IN_PLACE",
        appSpecFilename: String = "appspec.yml",
        revision: Revision, fileExistsBehavior: String? = nil
    ) {
        self.DeploymentId = deploymentId
        self.DeploymentGroupId = deploymentGroupId
        self.DeploymentGroupName = deploymentGroupName
        self.ApplicationName = applicationName
        self.DeploymentCreator = deploymentCreator
        self.DeploymentType = deploymentType
        self.AppSpecFilename = appSpecFilename
        self.Revision = revision
        self.AgentActionOverrides = fileExistsBehavior.map { .init(AgentOverrides: .init(FileExistsBehavior: $0)) }
    }
}
