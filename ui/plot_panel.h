#pragma once
// PlotPanel: one QCustomPlot with a title and the two buttons every plot in
// the workbench has: "Save image…" (PNG, SVG, PDF) and "Export CSV…" (the
// plotted numbers, from a provider the owner sets). Saving goes through a
// temporary file and a rename, like everything else the program writes.

#include <QString>
#include <QWidget>
#include <functional>

class QCustomPlot;
class QLabel;

namespace glq::ui {

class PlotPanel : public QWidget {
    Q_OBJECT
public:
    PlotPanel(const QString& title, QWidget* parent = nullptr);

    QCustomPlot* plot() const { return plot_; }
    void setTitle(const QString& title);
    // Returns the CSV text (header line first) of what the plot shows now.
    void setCsvProvider(std::function<QString()> provider) { csv_ = std::move(provider); }
    QString csv() const { return csv_ ? csv_() : QString(); }

    // By file suffix: .png, .svg (when built with Qt Svg) or .pdf. Throws
    // glq::Error naming the file on an unknown suffix or a failed write.
    void saveImage(const QString& path) const;
    void saveCsv(const QString& path) const;
    static QStringList imageFilters();  // for QFileDialog

signals:
    // Emitted after a failed save from the buttons, for the error sink.
    void saveFailed(const QString& where, const QString& problem);
    void saved(const QString& path);

private:
    void askSaveImage();
    void askSaveCsv();

    QLabel* title_;
    QCustomPlot* plot_;
    std::function<QString()> csv_;
};

} // namespace glq::ui
