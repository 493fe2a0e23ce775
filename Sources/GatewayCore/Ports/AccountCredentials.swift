/// Who a request acts for, and how the mail server is to be logged into for it: the account's own
/// password, or a master user acting for the account (trusted mode, job resumption).
public struct AccountCredentials: Hashable, Sendable, CustomStringConvertible {
    /// The account acted on (`alice`).
    public var user: String
    /// Who authenticates: the user itself, or a master user acting for `user`.
    public var authenticationIdentity: String
    public var password: String

    /// The account's own credentials.
    public init(user: String, password: String) {
        self.user = user
        self.authenticationIdentity = user
        self.password = password
    }

    /// A master user logging in on behalf of `user`.
    public init(user: String, masterUser: String, masterPassword: String) {
        self.user = user
        self.authenticationIdentity = masterUser
        self.password = masterPassword
    }

    public var isMasterLogin: Bool { authenticationIdentity != user }

    /// Never prints the password.
    public var description: String { isMasterLogin ? "\(user) (via \(authenticationIdentity))" : user }
}
