/// Name rules for the things accounts hold; each check returns a message naming the rule, or nil when the name is fine.
public enum AccountNames {
    /// Key ids: 1 to 64 letters, digits, `_` or `-`, not all digits. No dot, because the key `<tenant>.<keyid>.<secret>`
    /// is split at its last two dots and tenants may contain dots.
    public static func keyIdProblem(_ keyId: String) -> String? {
        guard !keyId.isEmpty, keyId.utf8.count <= 64, keyId.unicodeScalars.allSatisfy(isWordCharacter) else {
            return "key id '\(keyId)' is invalid: use 1 to 64 letters, digits, '_' or '-'"
        }
        guard !keyId.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else {
            return "key id '\(keyId)' is invalid: a numeric id is not allowed; include a letter"
        }
        return nil
    }

    /// Fabric names: 1 to 40 characters, a letter first, then letters, digits, `_` or `-`.
    public static func fabricProblem(_ fabric: String) -> String? {
        guard let first = fabric.unicodeScalars.first, ("a"..."z").contains(first) || ("A"..."Z").contains(first),
            fabric.utf8.count <= 40, fabric.unicodeScalars.allSatisfy(isWordCharacter)
        else {
            return "fabric name '\(fabric)' is invalid: use 1 to 40 letters, digits, '_' or '-', starting with a letter"
        }
        return nil
    }

    /// Usernames: 1 to 64 letters, digits, `_`, `-`, `.` or `@`.
    public static func usernameProblem(_ username: String) -> String? {
        guard !username.isEmpty, username.utf8.count <= 64,
            username.unicodeScalars.allSatisfy({ isWordCharacter($0) || $0 == "." || $0 == "@" })
        else {
            return "username '\(username)' is invalid: use 1 to 64 letters, digits, '_', '-', '.' or '@'"
        }
        return nil
    }

    static func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "_", "-": true
        default: false
        }
    }
}
