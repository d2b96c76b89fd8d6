import static org.junit.jupiter.api.Assertions.*;

import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.model.S3Exception;

/** The sandbox's local R2 stand-in: a real S3 server on 127.0.0.1 keeping objects as files. */
class LocalR2Test {
    static S3Client client(local_r2.Running store, String secret) {
        return S3Client.builder().endpointOverride(URI.create(store.endpoint())).region(Region.of("auto")).forcePathStyle(true)
                .credentialsProvider(StaticCredentialsProvider.create(AwsBasicCredentials.create(store.accessKey(), secret))).build();
    }

    @Test
    void servesTheBucketItCreatedAndKeepsObjectsAsFiles(@TempDir Path dir) throws Exception {
        try (local_r2.Running store = local_r2.start(dir, 0, "photos"); S3Client s3 = client(store, store.secretKey())) {
            assertTrue(store.port() > 0);
            assertEquals("http://127.0.0.1:" + store.port(), store.endpoint());
            s3.putObject(b -> b.bucket("photos").key("crops/a:face0.jpg"), RequestBody.fromString("jpeg bytes"));
            assertEquals("jpeg bytes", Files.readString(dir.resolve("photos/crops/a:face0.jpg")));
            assertEquals(1, s3.listObjectsV2(b -> b.bucket("photos")).keyCount());
            // the credentials it prints are the only ones it accepts
            try (S3Client wrong = client(store, "not-the-secret")) {
                S3Exception e = assertThrows(S3Exception.class, () -> wrong.listObjectsV2(b -> b.bucket("photos")));
                assertEquals(403, e.statusCode());
            }
        }
    }

    @Test
    void aPortInUseGivesAClearMessage(@TempDir Path dir) throws Exception {
        try (local_r2.Running first = local_r2.start(dir.resolve("a"), 0, null)) {
            KitException e = assertThrows(KitException.class, () -> local_r2.start(dir.resolve("b"), first.port(), null));
            assertTrue(e.getMessage().contains("cannot listen on 127.0.0.1:" + first.port()), e.getMessage());
            assertTrue(e.fix().contains("--port"), e.fix());
        }
    }
}
