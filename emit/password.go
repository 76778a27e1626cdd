package emit

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// scramIterations is PostgreSQL's default iteration count for SCRAM-SHA-256.
const scramIterations = 4096

// SCRAMVerifier returns the SCRAM-SHA-256 verifier PostgreSQL stores for
// password with salt and iterations:
// SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>. Giving the
// server the verifier instead of the password keeps the password out of
// its logs and statistics. The password is used as given (PostgreSQL
// applies SASLprep to non-ASCII passwords; uno sends those as they are,
// see passwordSQL).
func SCRAMVerifier(password string, salt []byte, iterations int) (string, error) {
	salted, err := pbkdf2.Key(sha256.New, password, salt, iterations, sha256.Size)
	if err != nil {
		return "", err
	}
	mac := func(key []byte, msg string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(msg))
		return h.Sum(nil)
	}
	stored := sha256.Sum256(mac(salted, "Client Key"))
	server := mac(salted, "Server Key")
	b64 := base64.StdEncoding.EncodeToString
	return "SCRAM-SHA-256$" + strconv.Itoa(iterations) + ":" + b64(salt) + "$" + b64(stored[:]) + ":" + b64(server), nil
}

// passwordSQL returns the literal to put after PASSWORD: a SCRAM verifier
// computed here for printable ASCII passwords, or the password itself for
// others (their SASLprep normalisation is left to the server).
func passwordSQL(pw string) string {
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x20 || pw[i] > 0x7e {
			return literal(pw)
		}
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return literal(pw)
	}
	v, err := SCRAMVerifier(pw, salt, scramIterations)
	if err != nil {
		return literal(pw)
	}
	return literal(v)
}
