import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ConsoleTest {
    @Test
    void endOfInputMeansNo() {
        assertFalse(new TestConsole("").console.confirm("Clear staging?"));
        TestConsole answers = new TestConsole("y\nno\nYES\n\n");
        assertTrue(answers.console.confirm("a?"));
        assertFalse(answers.console.confirm("b?"));
        assertTrue(answers.console.confirm("c?"));
        assertFalse(answers.console.confirm("d?"), "an empty answer is the default, no");
        assertTrue(new TestConsole("").text().isEmpty());
    }

    @Test
    void jsonModeKeepsStdoutForTheOneJsonObject() {
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        Console c = new Console(true, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
                new ByteArrayInputStream(new byte[0]));
        c.info("human text");
        try (ProgressBar bar = c.progress("Working", 10, false)) {
            bar.advance(10);
        }
        c.emitJson(JsonFiles.object().put("ok", true));
        assertEquals("{\n  \"ok\": true\n}\n", out.toString(StandardCharsets.UTF_8));
        String e = err.toString(StandardCharsets.UTF_8);
        assertTrue(e.contains("human text") && e.contains("Working [") && e.contains("10/10"), e);
    }

    @Test
    void progressBarShowsBytesAndRate() {
        TestConsole tc = new TestConsole();
        try (ProgressBar bar = tc.console.progress("Uploading", 2 * 1024 * 1024, true)) {
            bar.advance(1024 * 1024);
            bar.advance(1024 * 1024);
        }
        assertTrue(tc.text().contains("2.0 MB/2.0 MB") && tc.text().contains("/s"), tc.text());
    }

    @Test
    void optionsParseAndMistakesAreUsageErrors() {
        Args a = new Args("x", "about").option("--data-dir", "DIR", "d").flag("--json", "j").parse(new String[] {"--data-dir=foo", "--json"});
        assertEquals("foo", a.get("--data-dir"));
        assertTrue(a.has("--json"));
        assertThrows(Args.Usage.class, () -> new Args("x", "a").flag("--json", "j").parse(new String[] {"--jsn"}));
        assertThrows(Args.Usage.class, () -> new Args("x", "a").option("--dest", "DIR", "d").parse(new String[] {"--dest"}));
        Args.Help h = assertThrows(Args.Help.class, () -> new Args("x [--json]", "What it does.").flag("--json", "print JSON").parse(new String[] {"--help"}));
        assertTrue(h.getMessage().contains("Usage: x [--json]") && h.getMessage().contains("--json  print JSON"), h.getMessage());
        assertEquals(StepMain.USAGE, StepMain.run(() -> {
            throw new Args.Usage("unknown option --x");
        }));
        assertEquals(StepMain.FAILED, StepMain.run(() -> {
            throw new KitException("broken", "fix it");
        }));
    }
}
