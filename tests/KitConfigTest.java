import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KitConfigTest {
    @Test
    void dotEnvHandlesCommentsQuotesExportAndTheEnvironmentWins(@TempDir Path root) throws Exception {
        Files.writeString(root.resolve(".env"), """
                # the archive's settings
                export RHODESLI_SITE_URL=https://site.example   # trailing comment
                RHODESLI_SYNC_TOKEN="s3cr#t value"
                R2_BUCKET_NAME='literal # not a comment'
                R2_ACCOUNT_ID=from-dotenv
                EMPTY=
                this line is broken
                """);
        KitConfig c = KitConfig.load(root, Map.of("R2_ACCOUNT_ID", "from-environment"));
        assertEquals("https://site.example", c.get("RHODESLI_SITE_URL"));
        assertEquals("s3cr#t value", c.get("RHODESLI_SYNC_TOKEN"));
        assertEquals("literal # not a comment", c.get("R2_BUCKET_NAME"));
        assertEquals("from-environment", c.get("R2_ACCOUNT_ID"), "the environment wins over .env");
        assertNull(c.get("EMPTY"));
        assertEquals(1, c.warnings().size());
        assertTrue(c.warnings().get(0).contains("line 7"), c.warnings().toString());
    }

    @Test
    void secretsAreNeverPrinted(@TempDir Path root) {
        KitConfig c = KitConfig.load(root, Map.of("RHODESLI_SYNC_TOKEN", "abc123", "R2_SECRET_ACCESS_KEY", "xyz", "R2_BUCKET_NAME", "photos"));
        assertEquals("RHODESLI_SYNC_TOKEN=****", c.describe("RHODESLI_SYNC_TOKEN"));
        assertEquals("R2_SECRET_ACCESS_KEY=****", c.describe("R2_SECRET_ACCESS_KEY"));
        assertEquals("R2_BUCKET_NAME=photos", c.describe("R2_BUCKET_NAME"));
        assertEquals("R2_ACCOUNT_ID is not set", c.describe("R2_ACCOUNT_ID"));
    }

    @Test
    void oneMessageListsEveryMissingVariable(@TempDir Path root) {
        KitConfig c = KitConfig.load(root, Map.of("R2_BUCKET_NAME", "photos"));
        KitException e = assertThrows(KitException.class, () -> c.require(KitConfig.R2_VARIABLES, "Uploading to R2"));
        assertEquals("Uploading to R2 needs R2_ACCOUNT_ID, R2_ACCESS_KEY_ID, R2_SECRET_ACCESS_KEY (not set)", e.getMessage());
        assertTrue(e.fix().contains(".env"));
    }

    @Test
    void defaultFoldersAreUnderTheProjectRootAndGivenOnesAreAsGiven(@TempDir Path root) {
        KitConfig c = KitConfig.load(root, Map.of());
        assertEquals(root.toAbsolutePath().normalize().resolve("data"), c.dataDir(null));
        assertEquals(root.toAbsolutePath().normalize().resolve("raw_photos/crops"), c.cropsDir(null));
        assertEquals(Path.of("/elsewhere/data"), c.dataDir("/elsewhere/data"));
    }
}
