// BpwMapModel: editing (single, multi-row, pattern, table edit), undo/redo,
// the budget arithmetic (average bpw, stored size, predicted proxy loss), the
// allocator, bpw_allocation.json round trip and its errors, and the
// sensitivity table reader's errors. Every expected number is worked out by
// hand in the comments.

#include <QSignalSpy>
#include <QtTest>

#include "core/common/error.h"
#include "ui/bpw_allocation_json.h"
#include "ui/bpw_map_model.h"
#include "ui_test_support.h"

using namespace glq::ui;

namespace {

const QString A = QStringLiteral("model.layers.0.self_attn.q_proj");
const QString B = QStringLiteral("model.layers.0.mlp.down_proj");
const QString C = QStringLiteral("model.layers.1.mlp.down_proj");

// A: 8x16 = 128 params, measured at 2, 3, 4 bpw.
// B: 4x12 = 48 params (padded to 4x16 = 64), measured at 2 bpw only.
// C: 2x8 = 16 params, nothing measured.
std::vector<LayerSensitivity> three_layers() {
    LayerSensitivity a, b, c;
    a.name = A.toStdString(), a.rows = 8, a.cols = 16;
    a.set_loss(2, 1.0), a.set_loss(3, 0.3), a.set_loss(4, 0.1);
    b.name = B.toStdString(), b.rows = 4, b.cols = 12;
    b.set_loss(2, 0.8);
    c.name = C.toStdString(), c.rows = 2, c.cols = 8;
    return {a, b, c};
}

// Expects `fn` to throw glq::Error whose message contains every `parts`.
template <typename Fn>
void expect_error(Fn fn, const QStringList& parts) {
    try {
        fn();
    } catch (const glq::Error& e) {
        const QString what = QString::fromStdString(e.what());
        for (const QString& p : parts)
            QVERIFY2(what.contains(p), qPrintable(QStringLiteral("'%1' lacks '%2'").arg(what, p)));
        return;
    }
    QFAIL("no glq::Error thrown");
}

} // namespace

class TestBpwMapModel : public QObject {
    Q_OBJECT
private slots:
    void storedBytes() {
        // 8x16 at 4 bpw: 128*4 bits = 64 B of indices + SU/SV 2*(8+16) = 48 B
        // + Wscale and one inverse residual scale = 8 B.
        QCOMPARE(layer_stored_bytes(8, 16, 4), quint64(120));
        // 4x12 at 3 bpw: padded to 4x16 -> 64*3 bits = 24 B + 2*(4+12) + 2*4 = 64 B.
        QCOMPARE(layer_stored_bytes(4, 12, 3), quint64(64));
        // 2x8 at 2 bpw: 32 bits = 4 B + 2*10 + 4 = 28 B.
        QCOMPARE(layer_stored_bytes(2, 8, 2), quint64(28));
        QCOMPARE(stage_count(2), 1);
        QCOMPARE(stage_count(3), 2);
        QCOMPARE(stage_count(8), 4);
        // A large layer: 576x576 at 2 bpw is 82,944 B of indices.
        QCOMPARE(layer_stored_bytes(576, 576, 2), quint64(576 * 576 / 4 + 2 * 1152 + 4));
    }

    void predictedLoss() {
        const auto l = three_layers();
        QCOMPARE(predicted_loss(l[0], 3), 0.3);              // measured
        QCOMPARE(predicted_loss(l[0], 6), 0.1 / 16);         // from 4 bpw, 4^-2
        QCOMPARE(predicted_loss(l[1], 4), 0.8 / 16);         // from 2 bpw, 4^-2
        QVERIFY(std::isnan(predicted_loss(l[2], 4)));        // nothing measured
    }

    void initialState() {
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        QCOMPARE(m.rowCount(), 3);
        QCOMPARE(m.index(1, BpwMapModel::Bpw).data().toInt(), 4);
        QCOMPARE(m.index(1, BpwMapModel::Module).data().toString(), QStringLiteral("down"));
        QVERIFY(m.flags(m.index(0, BpwMapModel::Bpw)) & Qt::ItemIsEditable);
        QVERIFY(!(m.flags(m.index(0, BpwMapModel::Name)) & Qt::ItemIsEditable));
        QCOMPARE(m.undoStack()->count(), 0);
    }

    void budgetArithmetic() {
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        QVERIFY(m.setBpw({0}, 4));
        QVERIFY(m.setBpw({1}, 3));
        const BudgetSummary s = m.summary();
        // (128*4 + 48*3 + 16*2) / 192 = 688 / 192
        QCOMPARE(s.average_bpw, 688.0 / 192.0);
        QCOMPARE(s.parameters, 192);
        QCOMPARE(s.stored_bytes, quint64(120 + 64 + 28));
        QCOMPARE(s.original_bytes_bf16, quint64(384));
        // A@4 measured 0.1 + B@3 predicted 0.8/4 = 0.2; C has no loss.
        QVERIFY(qFuzzyCompare(s.predicted_loss, 0.3));
        QCOMPARE(s.layers_without_loss, 1);
    }

    void setSingleMultiAndRefuseBadValues() {
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        QSignalSpy changed(&m, &BpwMapModel::mapChanged);
        QVERIFY(m.setBpw({0, 2}, 6));
        QCOMPARE(m.bpw(), (std::vector<int>{6, 4, 6}));
        QCOMPARE(changed.count(), 1);
        QCOMPARE(m.undoStack()->count(), 1);  // one step for two rows
        QVERIFY(!m.setBpw({1}, 9));
        QVERIFY(!m.setBpw({1}, 1));
        QVERIFY(!m.setBpw({7}, 4));
        QVERIFY(!m.setBpw({}, 4));
        QCOMPARE(m.bpw(), (std::vector<int>{6, 4, 6}));
        QCOMPARE(m.undoStack()->count(), 1);
        // Editing the table cell goes through the same undoable path.
        QVERIFY(m.setData(m.index(1, BpwMapModel::Bpw), 7, Qt::EditRole));
        QCOMPARE(m.bpwAt(1), 7);
        QVERIFY(!m.setData(m.index(1, BpwMapModel::Name), QStringLiteral("x"), Qt::EditRole));
        QCOMPARE(m.undoStack()->count(), 2);
    }

    void patternSetAndUndoRedo() {
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        QVERIFY(m.setBpw({0}, 6));
        QCOMPARE(m.setBpwByPattern(QStringLiteral("*.mlp.down_proj"), 5), 2);
        QCOMPARE(m.bpw(), (std::vector<int>{6, 5, 5}));
        QCOMPARE(m.setBpwByPattern(QStringLiteral("model.layers.?.mlp.*"), 3), 2);
        QCOMPARE(m.setBpwByPattern(QStringLiteral("down_proj"), 3), 0);  // patterns match whole names
        QCOMPARE(m.setBpwByPattern(QStringLiteral("*"), 9), 0);
        QCOMPARE(m.undoStack()->count(), 3);

        m.undoStack()->undo();
        QCOMPARE(m.bpw(), (std::vector<int>{6, 5, 5}));
        m.undoStack()->undo();
        QCOMPARE(m.bpw(), (std::vector<int>{6, 2, 2}));
        m.undoStack()->undo();
        QCOMPARE(m.bpw(), (std::vector<int>{2, 2, 2}));
        QVERIFY(!m.undoStack()->canUndo());
        m.undoStack()->redo();
        m.undoStack()->redo();
        QCOMPARE(m.bpw(), (std::vector<int>{6, 5, 5}));
        QCOMPARE(m.summary().average_bpw, (128.0 * 6 + 48 * 5 + 16 * 5) / 192);
    }

    void allocate() {
        // Sizes A 128, B 48, C 16 parameters (total 192); target 3 -> budget
        // 576, start at 2 bpw uses 384. Round 1: B 2->3 gains (0.8-0.2)/48 =
        // 0.0125, the best (B 2->4: 0.75/96 = 0.0078, A 2->3: 0.7/128 =
        // 0.0055). Round 2: A 2->3 (B 3->4: 0.15/48 = 0.0031). Used 560;
        // nothing else fits in 16.
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        m.allocate(3.0);
        QCOMPARE(m.bpw(), (std::vector<int>{3, 3, 2}));
        QVERIFY(m.summary().average_bpw <= 3.0);
        QCOMPARE(m.undoStack()->count(), 1);
        const auto generous = allocate_bpw(three_layers(), 8.0);
        QCOMPARE(generous[0], 8);
        QCOMPARE(generous[1], 8);
        QCOMPARE(generous[2], 2);  // no loss measured: stays at the minimum
        expect_error([] { allocate_bpw(three_layers(), 1.5); }, {QStringLiteral("at least the minimum")});
        expect_error([] { allocate_bpw(three_layers(), 3.0, 5, 4); }, {QStringLiteral("min and max")});
        BpwMapModel empty;
        LayerSensitivity x;
        x.name = "x.q_proj", x.rows = 8, x.cols = 8;
        empty.setLayers(std::vector<LayerSensitivity>{x});
        expect_error([&] { empty.allocate(3.0); }, {QStringLiteral("no sensitivity measured")});
    }

    void allocationJsonRoundTrip() {
        QTemporaryDir dir;
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        m.setBpw({0}, 7);
        m.setBpw({2}, 3);
        const QString path = dir.filePath(QStringLiteral("bpw_allocation.json"));
        m.saveAllocation(path);
        QFile f(path);
        QVERIFY(f.open(QIODevice::ReadOnly));
        const QJsonObject o = QJsonDocument::fromJson(f.readAll()).object();
        QCOMPARE(o.size(), 3);
        QCOMPARE(o.value(A).toInt(), 7);
        QVERIFY(o.value(A).isDouble());  // JSON number, not a string
        QCOMPARE(QDir(dir.path()).entryList(QDir::Files).size(), 1);  // no temporary left behind

        BpwMapModel n;
        n.setLayers(three_layers(), 5);
        n.loadAllocation(path);
        QCOMPARE(n.bpw(), (std::vector<int>{7, 2, 3}));
        QCOMPARE(n.undoStack()->count(), 1);
        n.undoStack()->undo();
        QCOMPARE(n.bpw(), (std::vector<int>{5, 5, 5}));
    }

    void allocationDefaultKey() {
        QTemporaryDir dir;
        const QString path = test::write_text(dir, QStringLiteral("m.json"),
                                              QByteArray("{\"default\": 5, \"") + A.toUtf8() + "\": 3}");
        BpwMapModel m;
        m.setLayers(three_layers(), 2);
        m.loadAllocation(path);
        QCOMPARE(m.bpw(), (std::vector<int>{3, 5, 5}));
        // Without "default", unlisted layers get 2, as the reference does.
        const QString path2 = test::write_text(dir, QStringLiteral("n.json"), QByteArray("{\"") + B.toUtf8() + "\": 6}");
        m.loadAllocation(path2);
        QCOMPARE(m.bpw(), (std::vector<int>{2, 6, 2}));
    }

    void allocationJsonErrors() {
        QTemporaryDir dir;
        BpwMapModel m;
        m.setLayers(three_layers(), 4);
        const auto bad = [&](const char* file, const QByteArray& text, const QStringList& parts) {
            const QString path = test::write_text(dir, QString::fromLatin1(file), text);
            expect_error([&] { m.loadAllocation(path); }, QStringList{path} + parts);
            QCOMPARE(m.bpw(), (std::vector<int>{4, 4, 4}));  // untouched
        };
        bad("truncated.json", "{\"" + A.toUtf8() + "\": ", {QStringLiteral("not valid JSON")});
        bad("array.json", "[4, 4]", {QStringLiteral("flat JSON object")});
        bad("unknown.json", "{\"model.layers.9.mlp.up_proj\": 4}",
            {QStringLiteral("model.layers.9.mlp.up_proj"), QStringLiteral("not a linear layer of this model")});
        bad("range.json", "{\"" + A.toUtf8() + "\": 9}", {A, QStringLiteral("outside 2..8")});
        bad("string.json", "{\"" + A.toUtf8() + "\": \"4\"}", {A, QStringLiteral("integer")});
        bad("float.json", "{\"" + A.toUtf8() + "\": 4.5}", {A, QStringLiteral("integer")});
        bad("default.json", "{\"default\": 1}", {QStringLiteral("default"), QStringLiteral("outside 2..8")});
        expect_error([&] { m.loadAllocation(dir.filePath(QStringLiteral("missing.json"))); },
                     {QStringLiteral("missing.json")});
        QCOMPARE(m.undoStack()->count(), 0);
    }

    void sensitivityTableRoundTripAndErrors() {
        SensitivityTable t;
        t.model = "tiny";
        t.layers = three_layers();
        const SensitivityTable back = SensitivityTable::from_json_text(t.to_json_text(), "mem");
        QCOMPARE(back.layers.size(), size_t(2));  // C has nothing measured: left out
        QCOMPARE(back.layers[0].loss(3), 0.3);
        QVERIFY(!back.layers[1].measured(3));
        QCOMPARE(back.model, std::string("tiny"));

        const auto bad = [](const std::string& text, const QString& part) {
            expect_error([&] { SensitivityTable::from_json_text(text, "s.json"); }, {QStringLiteral("s.json"), part});
        };
        bad("nope", QStringLiteral("not valid JSON"));
        bad(R"({"format": "other", "version": 1, "layers": []})", QStringLiteral("not a sensitivity table"));
        bad(R"({"format": "glq-sensitivity", "version": 3, "layers": []})", QStringLiteral("version"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": []})", QStringLiteral("non-empty"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 0, "cols": 8, "proxy_loss": {"2": 1}}]})",
            QStringLiteral("\"rows\" must be a positive integer"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"9": 1}}]})",
            QStringLiteral("bpw \"9\""));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"2": -1}}]})",
            QStringLiteral("finite number >= 0"));
        bad(R"({"format": "glq-sensitivity", "version": 1, "layers": [{"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}},
                                                                    {"name": "x", "rows": 8, "cols": 8, "proxy_loss": {"2": 1}}]})",
            QStringLiteral("listed twice"));
    }

    void applySensitivityToModelLayers() {
        // A model's layers start without losses; a table fills the ones it names.
        BpwMapModel m;
        LinearLayer a;
        a.name = A, a.rows = 8, a.cols = 16;
        LinearLayer z;
        z.name = QStringLiteral("model.layers.0.self_attn.k_proj"), z.rows = 4, z.cols = 16;
        m.setLayers(QVector<LinearLayer>{a, z}, 3);
        QCOMPARE(m.summary().layers_without_loss, 2);
        SensitivityTable t;
        t.layers = three_layers();
        m.applySensitivity(t);
        QCOMPARE(m.summary().layers_without_loss, 1);
        QCOMPARE(m.summary().predicted_loss, 0.3);
        QCOMPARE(m.index(0, BpwMapModel::Sensitivity).data().toString(), QStringLiteral("1"));
    }
};

QTEST_MAIN(TestBpwMapModel)
#include "test_bpw_map_model.moc"
