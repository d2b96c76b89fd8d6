///usr/bin/env jbang "$0" "$@" ; exit $?
//JAVA 17+
//DEPS info.picocli:picocli:4.7.7
//JAVA_OPTIONS -Xmx2g
//SOURCES ../lib/KitException.java ../lib/AtomicFiles.java ../lib/JsonFiles.java ../lib/KitConfig.java
//SOURCES ../lib/Console.java ../lib/ProgressBar.java ../lib/StepMain.java ../lib/KitOptions.java
//SOURCES ../lib/Layout.java ../lib/KitContext.java ../lib/Step.java ../lib/StepRunner.java ../lib/JobLedger.java
//SOURCES ../lib/Names.java ../lib/Timestamps.java ../lib/CrashPoint.java ../lib/Backups.java
//SOURCES ../lib/DataLock.java ../lib/ArchiveFiles.java ../lib/ModelCatalog.java ../lib/Photos.java
//SOURCES ../lib/FaceModels.java ../lib/OnnxRuntimeLibraries.java ../lib/FaceDetector.java ../lib/FaceAligner.java ../lib/FaceEmbedder.java ../lib/FaceQuality.java ../lib/OnnxGraph.java ../lib/PReluAsConvolutions.java
//SOURCES ../lib/EmbeddingStore.java ../lib/NpyFloatMatrix.java ../lib/LegacyEmbeddings.java ../lib/NpyPickleReader.java
//SOURCES ../lib/FaceGrouping.java ../lib/FaceDistances.java ../lib/MatchThresholds.java ../lib/Identities.java
//SOURCES ../lib/UploadFolder.java ../lib/PhotoAnalysis.java ../lib/PhotoRegistration.java ../lib/InboxIdentities.java ../lib/IngestStep.java ../lib/PlannedArchive.java ../lib/BackgroundWork.java ../lib/ArchiveRead.java ../lib/ArchiveSnapshot.java ../lib/ModelCheck.java
//SOURCES ../tests/support/FaceMosaic.java ../tests/support/TrimmedArchive.java support/SideBySide.java

/*
 * Rescan benchmark (issue 14 item 5): `./jbang rescan --photo ID` as a user runs it, on a scratch
 * archive whose record of one group photo holds only its large faces — a 2400x1800 mosaic of the
 * eval faces at 20-90 px (made here from ../shared/eval, never stored; the eval group photos
 * themselves hold no face under 40 px), ingested with today's detector, then trimmed to the faces
 * of 40 px and more, as the earlier pipeline (InsightFace at 640 px) left such photos. Beside it,
 * the reference of each round: `./jbang ingest` of the same photo into an empty archive.
 * Each run starts from a fresh copy (untimed). Prints the faces the rescan added and the seconds.
 *
 * Options:  --rounds N   timed rounds (default 5)
 *           --faces N    faces on the mosaic (default 24)
 * Example:  ./jbang bench/rescan.java --rounds 3
 */
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

public class rescan {
    public static void main(String[] argv) throws Exception {
        int rounds = 5, faces = 24;
        for (int i = 0; i < argv.length; i++) {
            switch (argv[i]) {
                case "--rounds" -> rounds = Integer.parseInt(argv[++i]);
                case "--faces" -> faces = Integer.parseInt(argv[++i]);
                default -> {
                    System.err.println("Usage: ./jbang bench/rescan.java [--rounds N] [--faces N]");
                    System.exit(2);
                }
            }
        }
        Path root = SideBySide.kitRoot();
        Path eval = root.resolve("../shared/eval").normalize();
        if (!Files.isDirectory(eval)) {
            System.err.println("the evaluation photos are not at " + eval);
            System.exit(2);
        }
        Path scratch = Files.createTempDirectory("kit-rescan-bench");
        try {
            Path template = scratch.resolve("template"), upload = scratch.resolve("upload/bench");
            Layout t = Layout.under(template, root.resolve("models"));
            String photoId;
            int stored, trimmed;
            Console quiet = new Console(false, new java.io.PrintStream(java.io.OutputStream.nullOutputStream()),
                    new java.io.PrintStream(java.io.OutputStream.nullOutputStream()), System.in);
            try (FaceModels m = FaceModels.open(t.models(), 1)) {
                FaceMosaic.Mosaic mosaic = FaceMosaic.make(eval, m.detector, faces, 20, 90).get(0);
                Files.createDirectories(upload);
                Files.write(upload.resolve("group.jpg"), Photos.encodeJpeg(mosaic.image(), 0.95f));
                KitContext ctx = new KitContext(KitConfig.load(template, Map.of()), t, quiet, KitContext.Mode.APPLY);
                IngestStep.Result r = StepRunner.run(new IngestStep(IngestStep.Options.folders(List.of(new UploadFolder("bench", upload))), m), ctx).result();
                IngestStep.AddedPhoto p = r.jobs().get(0).added().get(0);
                photoId = p.photoId();
                stored = p.faces().size();
                trimmed = TrimmedArchive.trim(t, photoId, 40).size();
            }
            System.out.printf("Scratch archive: one %dx%d group photo, %d faces found today, its record trimmed to the %d of 40 px and more%n",
                    FaceMosaic.CANVAS_W, FaceMosaic.CANVAS_H, stored, stored - trimmed);

            String jbang = root.resolve("jbang").toString();
            Path copy = scratch.resolve("copy"), fresh = scratch.resolve("fresh");
            List<String> folders = List.of("--data-dir", copy.resolve("data").toString(), "--photos-dir", copy.resolve("raw_photos").toString(),
                    "--crops-dir", copy.resolve("raw_photos/crops").toString());
            List<String> rescanArgv = new java.util.ArrayList<>(List.of(jbang, "rescan", "--photo", photoId));
            rescanArgv.addAll(folders);
            SideBySide.Command rescanCmd = new SideBySide.Command("rescan --photo ID", rescanArgv, root).withSetup(() -> {
                SideBySide.deleteTree(copy);
                SideBySide.copyTree(template, copy);
            });
            SideBySide.Command ingestCmd = new SideBySide.Command("ingest of the same photo (empty archive)",
                    List.of(jbang, "ingest", "--directory", upload.toString(), "--job-id", "bench", "--data-dir", fresh.resolve("data").toString(),
                            "--photos-dir", fresh.resolve("raw_photos").toString(), "--crops-dir", fresh.resolve("raw_photos/crops").toString()), root)
                    .withSetup(() -> SideBySide.deleteTree(fresh));

            // One untimed run with --json for the count (and the builds).
            SideBySide.deleteTree(copy);
            SideBySide.copyTree(template, copy);
            List<String> json = new java.util.ArrayList<>(rescanArgv);
            json.add("--json");
            Process proc = new ProcessBuilder(json).directory(root.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            JsonNode out = JsonFiles.parse(proc.getInputStream().readAllBytes(), "rescan --json");
            proc.waitFor();
            int added = out.path("result").path("faces_added").asInt();
            System.out.printf("rescan added %d face(s) (%d were taken out), %d new INBOX identities%n", added, trimmed,
                    out.path("result").path("identities_created").size());

            System.out.printf("%nWhole processes, %d rounds, %d cores (1 warm-up round)%n", rounds, Runtime.getRuntime().availableProcessors());
            SideBySide.Samples s = SideBySide.run(List.of(ingestCmd, rescanCmd), 1, rounds);
            System.out.println();
            SideBySide.printTable(s, ingestCmd);
            System.out.printf("%nrescan: %d faces added in %.2f s (median); %.2f× the ingest of the same photo, per round%n",
                    added, s.medianWall(rescanCmd), SideBySide.median(s.ratios(rescanCmd, ingestCmd)));
        } finally {
            SideBySide.deleteTree(scratch);
        }
    }
}
