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
        Layout l = Layout.standard(c.root());
        assertEquals(root.toAbsolutePath().normalize().resolve("data"), l.data());
        assertEquals(root.toAbsolutePath().normalize().resolve("raw_photos/crops"), l.crops());
        assertEquals(Path.of("/elsewhere/data"), l.withData(Path.of("/elsewhere/data")).data());
    }

    /** Issue 11 item 3: a value pasted with its line end is trimmed at load; one with a control character inside is refused by name. */
    @Test
    void valuesAreTrimmedAndControlCharactersRefusedNamingTheVariableNeverTheValue(@TempDir Path root) throws Exception {
        Files.writeString(root.resolve(".env"), String.join("\n",
                "RHODESLI_SYNC_TOKEN=\"tok-from-dotenv\\n\"",
                "R2_SECRET_ACCESS_KEY=\"secret-with-cr\r\"",
                "R2_BUCKET_NAME=\"bucket\\tname\"", ""));
        KitConfig c = KitConfig.load(root, Map.of("RHODESLI_SITE_URL", " https://site.example\r\n"));
        assertEquals("tok-from-dotenv", c.get("RHODESLI_SYNC_TOKEN"), "\\n of a quoted .env value, then trimmed");
        assertEquals("secret-with-cr", c.get("R2_SECRET_ACCESS_KEY"), "a CR pasted inside the quotes");
        assertEquals("https://site.example", c.get("RHODESLI_SITE_URL"), "the environment's value is trimmed too");
        assertNull(c.get("R2_BUCKET_NAME"), "a tab inside the value: refused");
        assertTrue(c.unusable("R2_BUCKET_NAME"));
        assertEquals(List.of("R2_BUCKET_NAME"), c.warnings().stream().filter(w -> w.contains("control character")).map(w -> w.substring(0, w.indexOf(' '))).toList());
        for (String w : c.warnings()) assertFalse(w.contains("bucket") || w.contains("name\t"), "a warning never shows a value: " + w);

        KitConfig env = KitConfig.load(root, Map.of("RHODESLI_SYNC_TOKEN", "tok\u0001inside", "RHODESLI_SITE_URL", "https://site.example"));
        assertNull(env.get("RHODESLI_SYNC_TOKEN"), "the environment wins, and its value is unusable");
        KitException e = assertThrows(KitException.class, () -> env.require(KitConfig.SITE_VARIABLES, "Talking to the site"));
        assertEquals("Talking to the site needs RHODESLI_SYNC_TOKEN (set, but it holds a control character, e.g. a line break, inside its value)", e.getMessage());
        assertFalse(e.getMessage().contains("inside\u0001") || e.getMessage().contains("tok"), e.getMessage());
        assertEquals("RHODESLI_SYNC_TOKEN is unusable (it holds a control character, e.g. a line break, inside its value)", env.describe("RHODESLI_SYNC_TOKEN"));
        KitException both = assertThrows(KitException.class, () -> KitConfig.load(root, Map.of("RHODESLI_SYNC_TOKEN", "tok\u0001inside"))
                .require(List.of("RHODESLI_SITE_URL", "RHODESLI_SYNC_TOKEN"), "X"));
        assertTrue(both.getMessage().startsWith("X needs RHODESLI_SITE_URL (not set) and RHODESLI_SYNC_TOKEN (set, but"), both.getMessage());
        assertEquals(java.util.Set.of("tok-from-dotenv", "secret-with-cr"), c.secretValues());
    }
}
