#include "ui/plot_panel.h"

#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QPushButton>
#include <QTemporaryDir>
#include <QVBoxLayout>
#include <qcustomplot.h>
#ifdef GLQ_HAVE_QT_SVG
#include <QSvgGenerator>
#endif

#include "core/common/atomic_file.h"
#include "core/common/error.h"

namespace glq::ui {

PlotPanel::PlotPanel(const QString& title, QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    auto* bar = new QHBoxLayout;
    title_ = new QLabel(title);
    QFont f = title_->font();
    f.setBold(true);
    title_->setFont(f);
    auto* image = new QPushButton(tr("Save image…"));
    auto* csv = new QPushButton(tr("Export CSV…"));
    image->setToolTip(tr("Save this plot as PNG, SVG or PDF"));
    csv->setToolTip(tr("Save the numbers this plot shows as CSV"));
    bar->addWidget(title_, 1);
    bar->addWidget(image);
    bar->addWidget(csv);
    layout->addLayout(bar);
    plot_ = new QCustomPlot(this);
    plot_->setMinimumSize(240, 160);
    layout->addWidget(plot_, 1);
    connect(image, &QPushButton::clicked, this, &PlotPanel::askSaveImage);
    connect(csv, &QPushButton::clicked, this, &PlotPanel::askSaveCsv);
}

void PlotPanel::setTitle(const QString& title) { title_->setText(title); }

QStringList PlotPanel::imageFilters() {
    QStringList f{tr("PNG image (*.png)")};
#ifdef GLQ_HAVE_QT_SVG
    f << tr("SVG vector image (*.svg)");
#endif
    f << tr("PDF document (*.pdf)");
    return f;
}

namespace {
// QCustomPlot and QSvgGenerator write straight to the path they are given:
// render into a private temporary folder, then move the bytes into place
// atomically.
void publish(const QString& rendered, const QString& target) {
    QFile in(rendered);
    if (!in.open(QIODevice::ReadOnly))
        throw glq::Error(target.toStdString(), "could not read the rendered image back");
    const QByteArray bytes = in.readAll();
    glq::write_file_atomic(target.toStdString(), std::string_view(bytes.constData(), static_cast<size_t>(bytes.size())));
}
} // namespace

void PlotPanel::saveImage(const QString& path) const {
    const QString suffix = QFileInfo(path).suffix().toLower();
    QTemporaryDir tmp;
    if (!tmp.isValid()) throw glq::Error(path.toStdString(), "could not create a temporary folder to render into");
    const QString rendered = tmp.filePath(QStringLiteral("plot.") + suffix);
    const int w = plot_->width(), h = plot_->height();
    bool ok = false;
    if (suffix == QLatin1String("png")) {
        ok = plot_->savePng(rendered, w, h, 2.0);  // 2x: crisp on high-DPI screens and in documents
    } else if (suffix == QLatin1String("pdf")) {
        ok = plot_->savePdf(rendered, w, h);
    } else if (suffix == QLatin1String("svg")) {
#ifdef GLQ_HAVE_QT_SVG
        QSvgGenerator svg;
        svg.setFileName(rendered);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        svg.setTitle(title_->text());
        QCPPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            plot_->toPainter(&painter, w, h);
            ok = painter.end();
        }
#else
        throw glq::Error(path.toStdString(), "this build has no SVG support (Qt Svg was not found); save as PNG or PDF");
#endif
    } else {
        throw glq::Error(path.toStdString(), "unknown image type '." + suffix.toStdString() + "' (use .png, .svg or .pdf)");
    }
    if (!ok) throw glq::Error(path.toStdString(), "the plot could not be rendered to " + suffix.toUpper().toStdString());
    publish(rendered, path);
}

void PlotPanel::saveCsv(const QString& path) const {
    glq::write_file_atomic(path.toStdString(), csv().toStdString());
}

void PlotPanel::askSaveImage() {
    QString filter;
    QString path = QFileDialog::getSaveFileName(this, tr("Save plot image"),
                                                QDir::home().filePath(title_->text().toLower().replace(QLatin1Char(' '), QLatin1Char('_')) + QStringLiteral(".png")),
                                                imageFilters().join(QStringLiteral(";;")), &filter);
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) {
        const int star = filter.indexOf(QLatin1String("*."));
        path += filter.mid(star + 1, filter.indexOf(QLatin1Char(')'), star) - star - 1);
    }
    try {
        saveImage(path);
        emit saved(path);
    } catch (const glq::Error& e) {
        emit saveFailed(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
    }
}

void PlotPanel::askSaveCsv() {
    QString path = QFileDialog::getSaveFileName(this, tr("Export plot data"),
                                                QDir::home().filePath(title_->text().toLower().replace(QLatin1Char(' '), QLatin1Char('_')) + QStringLiteral(".csv")),
                                                tr("CSV (*.csv)"));
    if (path.isEmpty()) return;
    if (QFileInfo(path).suffix().isEmpty()) path += QStringLiteral(".csv");
    try {
        saveCsv(path);
        emit saved(path);
    } catch (const glq::Error& e) {
        emit saveFailed(QString::fromStdString(e.where()), QString::fromStdString(e.problem()));
    }
}

} // namespace glq::ui
