package cli

// secretTypes are the words after `create secret`.
var secretTypes = []string{"docker-registry", "generic", "tls"}

// createSecretType completes the word after `create secret`: args are
// the verb's arguments, the generator's name first.
func createSecretType(verb string, args []string) ([]string, bool) {
	if verb == "create" && len(args) == 1 && args[0] == "secret" {
		return secretTypes, true
	}
	return nil, false
}
