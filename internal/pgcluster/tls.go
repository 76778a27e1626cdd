package pgcluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is a throwaway certificate authority and the certificates a TLS test
// needs, generated with crypto/x509 and written as PEM files into a
// directory. Nothing is shipped: every run makes new keys.
type PKI struct {
	Dir        string // directory holding the files
	CACert     string // the CA certificate (give it as sslrootcert)
	ServerCert string // server certificate, signed by the CA, for ServerNames
	ServerKey  string
	ClientCert string // client certificate, signed by the CA, CN = ClientUser
	ClientKey  string
	OtherCA    string // an unrelated CA certificate, for wrong-CA tests

	ServerNames []string // DNS names and IP addresses the server certificate is valid for
	ClientUser  string   // the role name in the client certificate's CN
}

// NewPKI generates a CA, a server certificate valid for serverNames (host
// names or IP addresses), a client certificate for the role clientUser,
// and an unrelated second CA, and writes them into dir. Key files are
// written with mode 0600 (PostgreSQL and libpq refuse looser keys).
func NewPKI(dir, clientUser string, serverNames ...string) (*PKI, error) {
	p := &PKI{
		Dir: dir, ServerNames: serverNames, ClientUser: clientUser,
		CACert: filepath.Join(dir, "ca.crt"), OtherCA: filepath.Join(dir, "other-ca.crt"),
		ServerCert: filepath.Join(dir, "server.crt"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	caKey, caCert, caDER, err := selfSigned("uno test CA")
	if err != nil {
		return nil, err
	}
	_, _, otherDER, err := selfSigned("some other CA")
	if err != nil {
		return nil, err
	}
	srv := &x509.Certificate{
		Subject:     pkix.Name{CommonName: "uno test server"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	for _, n := range serverNames {
		if ip := net.ParseIP(n); ip != nil {
			srv.IPAddresses = append(srv.IPAddresses, ip)
		} else {
			srv.DNSNames = append(srv.DNSNames, n)
		}
	}
	srvKey, srvDER, err := signed(srv, caCert, caKey)
	if err != nil {
		return nil, err
	}
	cli := &x509.Certificate{
		Subject:     pkix.Name{CommonName: clientUser},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		KeyUsage:    x509.KeyUsageDigitalSignature,
	}
	cliKey, cliDER, err := signed(cli, caCert, caKey)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		typ  string
		der  []byte
		mode os.FileMode
	}{
		{p.CACert, "CERTIFICATE", caDER, 0o644},
		{p.OtherCA, "CERTIFICATE", otherDER, 0o644},
		{p.ServerCert, "CERTIFICATE", srvDER, 0o644},
		{p.ServerKey, "EC PRIVATE KEY", srvKey, 0o600},
		{p.ClientCert, "CERTIFICATE", cliDER, 0o644},
		{p.ClientKey, "EC PRIVATE KEY", cliKey, 0o600},
	} {
		if err := os.WriteFile(f.path, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der}), f.mode); err != nil {
			return nil, fmt.Errorf("pgcluster: %w", err)
		}
	}
	return p, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	return n
}

func selfSigned(cn string) (*ecdsa.PrivateKey, *x509.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pgcluster: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pgcluster: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pgcluster: %w", err)
	}
	return key, cert, der, nil
}

// signed signs tmpl with the CA and returns the new key (SEC 1 DER) and
// certificate (DER).
func signed(tmpl, ca *x509.Certificate, caKey *ecdsa.PrivateKey) ([]byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("pgcluster: %w", err)
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("pgcluster: %w", err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("pgcluster: %w", err)
	}
	return kder, der, nil
}
