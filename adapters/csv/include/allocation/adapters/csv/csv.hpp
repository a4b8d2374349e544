// The CSV adapter: a directory's batches.csv and allocations.csv as repository and unit of work (the book's
// appendix C), and the parser that reads them as csv.DictReader does.
#pragma once

#include "allocation/adapters/csv/directory.hpp"
#include "allocation/adapters/csv/files.hpp"
#include "allocation/adapters/csv/parser.hpp"
#include "allocation/adapters/csv/rows.hpp"
#include "allocation/adapters/csv/unit_of_work.hpp"
