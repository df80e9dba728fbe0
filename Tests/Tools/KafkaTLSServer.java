// A TLS server set up from the files a compose broker gets, the way Kafka's own
// DefaultSslEngineFactory uses them (Java's JSSE, as the broker is): the PKCS#12 keystore with
// the password read from its file, the CA from its PEM file as the only trust anchor, client
// certificates required, TLS 1.2 and 1.3. It speaks no Kafka: for each connection it prints
// the client's principal (its subject, as Kafka's SslPrincipalMapper sees it) or why the
// handshake failed, then closes it. Used by KafkaTests.BrokerTLSTests; needs only a JRE:
//
//   java Tests/Tools/KafkaTLSServer.java KEYSTORE.p12 PASSWORD_FILE CA.crt PORT [BIND_ADDRESS]
import java.io.*;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import javax.net.ssl.*;

public class KafkaTLSServer {
    public static void main(String[] args) throws Exception {
        char[] password = Files.readString(Path.of(args[1])).toCharArray();
        KeyStore keys = KeyStore.getInstance("PKCS12");
        try (InputStream in = Files.newInputStream(Path.of(args[0]))) { keys.load(in, password); }
        KeyManagerFactory keyManagers = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        keyManagers.init(keys, password);

        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        int index = 0;
        try (InputStream in = Files.newInputStream(Path.of(args[2]))) {
            for (java.security.cert.Certificate ca : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                trust.setCertificateEntry("ca-" + index++, ca);
            }
        }
        TrustManagerFactory trustManagers = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        trustManagers.init(trust);

        SSLContext context = SSLContext.getInstance("TLSv1.3");
        context.init(keyManagers.getKeyManagers(), trustManagers.getTrustManagers(), new SecureRandom());
        SSLServerSocket server = (SSLServerSocket) context.getServerSocketFactory()
            .createServerSocket(Integer.parseInt(args[3]), 50,
                java.net.InetAddress.getByName(args.length > 4 ? args[4] : "127.0.0.1"));
        server.setEnabledProtocols(new String[] {"TLSv1.2", "TLSv1.3"});
        server.setNeedClientAuth(true);
        System.out.println("listening");
        System.out.flush();
        long deadline = System.currentTimeMillis() + 300_000;   // never outlives a test run by much
        server.setSoTimeout(1000);
        while (System.currentTimeMillis() < deadline) {
            SSLSocket socket;
            try { socket = (SSLSocket) server.accept(); } catch (java.net.SocketTimeoutException e) { continue; }
            try (socket) {
                socket.setSoTimeout(10_000);
                socket.startHandshake();
                String principal = socket.getSession().getPeerPrincipal().getName();
                System.out.println("principal " + principal);
            } catch (Exception e) {
                System.out.println("failed " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
            System.out.flush();
        }
    }
}
