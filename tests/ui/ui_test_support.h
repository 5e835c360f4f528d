#pragma once
// Small helpers shared by the ui tests: where the shared data lives and a
// scratch folder per test.

#include <QDir>
#include <QString>
#include <QTemporaryDir>
#include <QtTest>

#include "core/session/compute_threads.h"

namespace glq::ui::test {

// $GLQ_SHARED_DATA (set by CTest), else ../shared/data next to the checkout.
inline QString shared_data() {
    const QByteArray env = qgetenv("GLQ_SHARED_DATA");
    if (!env.isEmpty()) return QString::fromLocal8Bit(env);
    return QDir::current().absoluteFilePath(QStringLiteral("../shared/data"));
}

inline QString stories260k() { return shared_data() + QStringLiteral("/models/stories260K"); }

inline QString ui_test_data() { return QStringLiteral(GLQ_UI_TEST_DATA); }

// Writes `text` to `dir/name` and returns the path.
inline QString write_text(const QTemporaryDir& dir, const QString& name, const QByteArray& text) {
    const QString path = dir.filePath(name);
    QFile f(path);
    if (!f.open(QIODevice::WriteOnly)) qFatal("cannot write %s", qPrintable(path));
    f.write(text);
    return path;
}

} // namespace glq::ui::test

// QTEST_MAIN, after setting LibTorch's thread counts as the GUI's main does
// (no more compute threads than cores; core/session/compute_threads.h).
#define GLQ_QTEST_MAIN(TestObject)                                        \
    QTEST_MAIN_WRAPPER(TestObject, ::glq::session::configure_compute_threads(); QTEST_MAIN_SETUP())
