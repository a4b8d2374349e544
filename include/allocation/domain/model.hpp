// The stock-allocation domain model: order lines, batches, the Product aggregate and its change journal.
// One include for all of them; each part has a header of its own.
#pragma once

#include "allocation/domain/batch.hpp"
#include "allocation/domain/changes.hpp"
#include "allocation/domain/order_line.hpp"
#include "allocation/domain/product.hpp"
