#include "ui/screenshot_tour.h"

#include <QApplication>
#include <QDir>
#include <QPixmap>
#include <QTimer>

#include "core/common/error.h"
#include "ui/bpw_map_model.h"
#include "ui/bpw_map_view.h"
#include "ui/log_dock.h"
#include "ui/main_window.h"
#include "ui/model_summary.h"
#include "ui/name_pattern.h"

namespace glq::ui {

ScreenshotTour::ScreenshotTour(MainWindow* window, QString out_dir, QString model_dir, QString sensitivity, QString bpw_map)
    : QObject(window), window_(window), out_(std::move(out_dir)), model_(std::move(model_dir)),
      sensitivity_(std::move(sensitivity)), bpwMap_(std::move(bpw_map)) {}

void ScreenshotTour::start(std::function<void(int)> done) {
    done_ = std::move(done);
    if (!QDir().mkpath(out_)) {
        window_->log()->error(tr("cannot create %1").arg(out_));
        done_(1);
        return;
    }
    if (model_.isEmpty()) {
        afterModel();
        return;
    }
    connect(window_, &MainWindow::modelOpened, this, &ScreenshotTour::afterModel, Qt::SingleShotConnection);
    connect(window_, &MainWindow::errorShown, this, [this](const QString& m) {
        qWarning("screenshot: %s", qPrintable(m));
        done_(1);
    }, Qt::SingleShotConnection);
    window_->openModel(model_);
}

void ScreenshotTour::afterModel() {
    if (!sensitivity_.isEmpty() && !window_->loadSensitivity(sensitivity_)) return done_(1);
    if (!bpwMap_.isEmpty()) {
        if (!window_->loadBpwMap(bpwMap_)) return done_(1);
    } else if (!sensitivity_.isEmpty()) {
        try {
            window_->bpwModel()->allocate(3.0);
        } catch (const glq::Error& e) {  // e.g. a table that leaves layers unmeasured
            window_->log()->error(QString::fromStdString(e.what()));
            return done_(1);
        }
    }
    // A few layers selected, so the loss-vs-bpw plot has curves to show.
    QList<int> rows;
    for (const QString& pattern : {QStringLiteral("*.0.self_attn.q_proj"), QStringLiteral("*.0.mlp.down_proj"),
                                   QStringLiteral("*.2.self_attn.v_proj"), QStringLiteral("*.4.mlp.gate_proj")}) {
        const QStringList names = window_->bpwModel()->layerNames();
        for (int i = 0; i < names.size(); ++i)
            if (NamePattern(pattern).matches(names[i])) rows << i;
    }
    window_->bpwMapView()->selectRows(rows);
    QTimer::singleShot(300, this, &ScreenshotTour::shoot);  // let layouts and plots settle
}

void ScreenshotTour::shoot() {
    int failures = 0;
    for (int i = 0; i < MainWindow::StepCount; ++i) {
        const auto step = static_cast<MainWindow::Step>(i);
        window_->setStep(step);
        QApplication::processEvents();
        QApplication::processEvents();
        QString name = MainWindow::stepTitle(step).toLower();
        name.replace(QLatin1String(" & "), QLatin1String("-")).replace(QLatin1Char(' '), QLatin1Char('-'));
        const QString path = QDir(out_).filePath(QStringLiteral("%1-%2.png").arg(i + 1).arg(name));
        if (!window_->grab().save(path)) {
            qWarning("screenshot: could not write %s", qPrintable(path));
            ++failures;
        } else {
            qInfo("screenshot: %s", qPrintable(path));
        }
    }
    done_(failures ? 1 : 0);
}

} // namespace glq::ui
